"""`upgrade head` on an empty database gives exactly the models; `downgrade base` undoes it."""
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from voting.core.db import make_engine
from voting.core.migrate import alembic_config
from voting.schema import Base

from tests.conftest import make_app


def test_upgrade_head_matches_models(database_url):
    engine = make_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(database_url, connection), "head")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(connection).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    engine.dispose()


def test_downgrade_base_removes_every_table(database_url):
    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = alembic_config(database_url, connection)
        command.upgrade(config, "head")
        command.downgrade(config, "base")
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) == {"alembic_version"}
    engine.dispose()


def test_cli_db_upgrade_then_current(database_url, tmp_path):
    app = make_app(database_url, tmp_path)  # no create_all: the command builds the schema
    runner = app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "数据库已升级到 head" in result.output
    engine = app.extensions["pingyi.engine"]
    with engine.connect() as connection:
        assert "service_object" in inspect(connection).get_table_names()
    engine.dispose()
