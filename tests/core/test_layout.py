"""The shape of the code: which package may import which (README, "Layout").

The platform is `scoring` (pure scoring), `sms` (senders, tokens, webhooks) and `voting` (the
app), whose feature packages each hold their models, services, views and templates. These
rules keep the layers apart; a new dependency between packages is a design decision, made
by adding it to `SERVICES_MAY_IMPORT` below with the reason in the commit.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VOTING = ROOT / "voting"

# What each feature package's services and models may import from the other packages of
# voting/ (core is open to everyone). The entry points, pages (views) and commands
# (commands.py, the package's `pingyi` commands), may use any package's services.
SERVICES_MAY_IMPORT = {
    "audit": set(),
    # the units' forms (附件4, 附件5): their units and sections, the audit log; scores.report.safe_text for the files
    "commitments": {"audit", "lists", "scores"},
    "components": {"audit", "lists", "staff"},
    "deadlines": {"audit", "lists", "office", "outbox", "scores", "staff", "survey"},
    # list integrity: the lists and votes it checks, the units' staff phones (附件5), the audit log
    "integrity": {"audit", "commitments", "lists", "survey"},
    "demo": {"components", "lists", "online", "scores", "staff", "survey"},
    "jobs": {"tasks"},  # a worker imports voting/tasks.py to know the kinds of job
    "lists": {"audit", "online", "staff", "survey"},
    # (commitments: the retention erases the units' staff names and numbers, 附件4 and 附件5)
    "office": {"audit", "commitments", "components", "lists", "online", "outbox", "schema", "scores", "survey"},
    "online": {"audit", "lists", "outbox", "scores", "staff", "survey"},
    "outbox": {"lists", "survey"},
    # a code's section or window; the verification SMS; a valid complaint's 网络监督 deduction
    # (a component entry) and the administrator who entered it
    "ratings": {"audit", "components", "lists", "outbox", "schemes", "staff"},
    "schemes": {"audit", "components", "lists"},  # BundleRejected: a folder of data files, every bad file listed; an entity's unit
    "scores": {"audit", "components", "lists", "online", "staff", "survey"},
    "staff": {"audit", "lists"},
    "survey": {"audit", "lists", "outbox", "staff"},
    "web": {"lists", "office", "scores", "staff", "survey"},
}
# The composition: the app factory, its CLI (voting/cli.py, which gathers the packages'
# commands), its blueprints, the kinds of job, the tables and the deployment's checks put the
# packages together and may import any of them.
COMPOSITION = {"__init__", "blueprints", "checks", "cli", "gunicorn_conf", "schema", "tasks"}


def imports(path: Path, top_level: bool = False) -> list[tuple[int, str]]:
    """(line, module) of each import in `path`; `from a import b` gives a.b. With
    `top_level`, only the module's own imports, not those inside its functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body if top_level else ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def is_view(path: Path) -> bool:
    """Whether `path` is an entry point: a module of pages (views, *_views, the login
    pages of auth.py) or of `pingyi` commands (commands.py). An entry point may import
    any package's services; no service imports an entry point."""
    return (path.stem == "views" or path.stem.endswith("_views") or path.name == "auth.py"
            or path.name == "commands.py")


def voting_modules() -> list[tuple[str, Path]]:
    """(package, file) of every module of voting/; a top-level module is its own package."""
    out = []
    for path in sorted(VOTING.rglob("*.py")):
        parts = path.relative_to(VOTING).parts
        out.append((parts[0] if len(parts) > 1 else path.stem, path))
    return out


def voting_imports(path: Path, top_level: bool = False) -> list[tuple[int, str, str]]:
    """(line, package, module) of each import of another module of voting/."""
    out = []
    for line, module in imports(path, top_level):
        parts = module.split(".")
        if parts[0] == "voting" and len(parts) > 1:
            out.append((line, parts[1], module))
    return out


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


@pytest.mark.parametrize("package", ["scoring", "sms"])
def test_scoring_and_sms_know_nothing_of_the_app(package):
    wrong = [f"{where(path, line)} imports {module}"
             for path in sorted((ROOT / package).rglob("*.py"))
             for line, module in imports(path) if module.split(".")[0] == "voting"]
    assert wrong == []


def test_core_knows_no_feature():
    """Core imports no feature package. Its commands (an entry point) run jobs, but import
    the jobs package inside the functions that do: importing core loads no feature."""
    wrong = [f"{where(path, line)} imports {module}"
             for package, path in voting_modules() if package == "core"
             for line, other, module in voting_imports(path, top_level=is_view(path)) if other != "core"]
    assert wrong == []


def test_models_import_only_core_and_other_models():
    wrong = [f"{where(path, line)} imports {module}"
             for _, path in voting_modules() if path.name == "models.py"
             for line, other, module in voting_imports(path)
             if other != "core" and module.split(".")[2:3] != ["models"]]
    assert wrong == []


def test_services_import_no_pages():
    """A service is called by pages, commands and jobs alike: it imports no entry point
    (no view, no commands module), no shared page piece (voting/web/) and none of the
    composition."""
    wrong = []
    for package, path in voting_modules():
        if is_view(path) or package in COMPOSITION or package == "web":
            continue
        for line, other, module in voting_imports(path):
            target = module.split(".")
            view = len(target) > 2 and is_view(Path(f"{target[2]}.py"))
            if view or other == "web" or (other in COMPOSITION - {"tasks", "schema"}):
                wrong.append(f"{where(path, line)} imports {module}")
    assert wrong == []


def test_each_package_imports_only_what_the_table_allows():
    wrong = []
    packages = {package for package, _ in voting_modules()}
    assert set(SERVICES_MAY_IMPORT) == packages - COMPOSITION - {"core", "data"}, "every package has its line in the table"
    for package, path in voting_modules():
        if package in COMPOSITION or package in ("core", "data") or is_view(path):
            continue
        allowed = SERVICES_MAY_IMPORT[package] | {package, "core"}
        wrong += [f"{where(path, line)} imports {module}"
                  for line, other, module in voting_imports(path) if other not in allowed]
    assert wrong == []


def test_the_table_has_no_edge_left_unused():
    """An allowed import no module makes any more is taken out of the table."""
    used: dict[str, set[str]] = {package: set() for package in SERVICES_MAY_IMPORT}
    for package, path in voting_modules():
        if package in used and not is_view(path):  # the composition and core have no line
            used[package] |= {other for _, other, _ in voting_imports(path)}
    assert {p: sorted(allowed - used[p]) for p, allowed in SERVICES_MAY_IMPORT.items() if allowed - used[p]} == {}


def test_templates_live_with_their_feature():
    """Only the shared layouts sit at the top of templates/; each page is in its package's folder."""
    top = sorted(p.name for p in (ROOT / "templates").glob("*.html"))
    assert top == ["_confirm.html", "_macros.html", "base.html", "citizen_base.html", "confirm.html", "error.html"]
    folders = {p.name for p in (ROOT / "templates").iterdir() if p.is_dir()} - {"static"}
    assert folders <= set(SERVICES_MAY_IMPORT)


def test_no_module_imports_itself_in_a_circle():
    """The packages' table allows some pairs both ways (lists and survey, online and
    scores); the modules themselves still import in one direction only, at module level
    (an import inside a function, done when it runs, is how a rare use crosses back)."""
    names = {}
    for _, path in voting_modules():
        parts = path.relative_to(ROOT).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {
        name: {target for target in (module if module in names else module.rpartition(".")[0]
                                     for _, module in imports(path, top_level=True))
               if target in names and target != name}
        for name, path in names.items()
    }
    circles = []

    def visit(name: str, trail: list[str], done: set[str]) -> None:
        for target in sorted(graph[name]):
            if target in trail:
                circles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in done:
                done.add(target)
                visit(target, [*trail, target], done)

    finished: set[str] = set()
    for name in sorted(graph):
        if name not in finished:
            finished.add(name)
            visit(name, [name], finished)
    assert circles == []


def test_every_package_is_installed():
    """An installed copy (the quick start's `pip install .`) carries every package: one
    left out of setup.cfg works from the checkout and fails once installed."""
    import configparser

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    listed = set(config["options"]["packages"].split())
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for top in ("voting", "sms", "scoring") for init in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set()
