"""Alembic from inside the app: `pingyi db upgrade`, and the tests."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from voting.core.resources import resource_dir


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    directory = resource_dir("migrations")
    config = Config(str(directory / "alembic.ini"))
    config.set_main_option("script_location", str(directory))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
