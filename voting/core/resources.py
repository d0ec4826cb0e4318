"""Where the top-level `templates/` and `migrations/` folders are.

In a source checkout they sit beside `voting/`; an installed copy (`pip install .`)
carries them inside the package as `voting/templates` and `voting/migrations`
(`package_dir` in setup.cfg).
"""
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # voting/


def resource_dir(name: str) -> Path:
    installed = _PACKAGE / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


DATA_DIR = _PACKAGE / "data"
