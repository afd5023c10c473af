"""The house rules: every third-party import is declared in ``pyproject.toml``, and the
engine (``afis``) loads nothing of the service layers or their dependencies."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
#: Folders whose modules must import only declared packages (issue: tests, benchmarks and
#: tools count too: CI installs exactly what pyproject declares).
CHECKED = ("afis", "enrollment", "reader", "tests", "benchmarks", "tools")
#: Modules of the project itself, and the helper modules the tests and benchmarks import by
#: their folder being on ``sys.path`` (pytest's rootdir insertion, a script's own folder).
FIRST_PARTY = {"afis", "enrollment", "reader"}
#: Import names of declared packages that may be absent here (``packages_distributions`` only
#: knows installed ones): pyscard is installed by ``tools/test-services.sh`` after its system
#: libraries, so a machine without PC/SC lacks it.
IMPORT_TO_DISTRIBUTION: dict[str, str] = {"smartcard": "pyscard"}
#: What the engine must never load: the service layers and their heavy dependencies.
FORBIDDEN_IN_ENGINE = (
    "enrollment",
    "reader",
    "sqlalchemy",
    "alembic",
    "dask",
    "distributed",
    "psycopg",
    "cryptography",
    "openpyxl",
    "smartcard",
)


def _declared() -> set[str]:
    """Normalised names of every distribution pyproject declares (runtime and all extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    names = {_normalise(re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0]) for spec in specs}
    names.discard(_normalise(project["name"]))  # self-references between extras
    return names


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _local_modules(folder: Path) -> set[str]:
    """Top-level names a script or test in ``folder`` can import from beside itself."""
    return {p.stem for p in folder.glob("*.py")} | {
        p.name for p in folder.iterdir() if (p / "__init__.py").exists()
    }


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level imported name -> files importing it, over the checked folders."""
    found: dict[str, set[str]] = {}
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*.py")):
            local = _local_modules(path.parent)
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    first = name.split(".")[0]
                    if first in sys.stdlib_module_names or first in FIRST_PARTY | local:
                        continue
                    found.setdefault(first, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_is_declared_in_pyproject() -> None:
    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for name, files in sorted(_third_party_imports().items()):
        # installed: the distributions providing it; not installed: its declared name
        candidates = distributions.get(name) or [IMPORT_TO_DISTRIBUTION.get(name, name)]
        if not any(_normalise(c) in declared for c in candidates):
            where = ", ".join(sorted(files)[:3])
            owner = f"from {', '.join(candidates)}" if candidates else "not installed"
            missing.append(f"{name} ({owner}) imported by {where}")
    assert not missing, "imports that pyproject.toml does not declare:\n" + "\n".join(missing)


def test_the_check_sees_an_undeclared_import(tmp_path: Path) -> None:
    """The declaration test is not vacuous: a package outside pyproject is reported."""
    declared = _declared()
    assert "numpy" in declared and "sqlalchemy" in declared
    assert "pytest-benchmark" in declared  # the test extra counts
    assert "requests" not in declared and "torch" not in declared


def test_importing_the_engine_loads_no_service_layer() -> None:
    """In a fresh interpreter, every ``afis`` module imported: none of the service layers'
    dependencies is in ``sys.modules`` (an issuance service embeds the engine alone)."""
    script = f"""
import importlib, json, pkgutil, sys
import afis
names = sorted(m.name for m in pkgutil.walk_packages(afis.__path__, prefix="afis.")
               if not m.name.endswith("__main__"))
for name in names:
    importlib.import_module(name)
afis.index  # the lazily loaded attribute too
forbidden = {FORBIDDEN_IN_ENGINE!r}
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(json.dumps({{"modules": len(names), "loaded": loaded}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["modules"] > 30
    assert report["loaded"] == [], f"importing afis loaded {report['loaded']}"


def test_the_enrolment_layer_does_not_import_the_card_reader() -> None:
    """Layers build on the engine; the data centre's layer never depends on card pick-up."""
    offenders = []
    for path in sorted((ROOT / "enrollment").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)} imports {m}"
                for m in modules
                if m.split(".")[0] == "reader"
            ]
    assert not offenders, "\n".join(offenders)


def test_an_enrolment_station_loads_no_data_centre_stack() -> None:
    """A station embeds capture, packets and the outbox's packet code: in a fresh
    interpreter they load neither the SQL toolkit nor the centre's web or cluster stacks."""
    script = """
import json, sys
import enrollment.capture, enrollment.packet, enrollment.kinds
print(json.dumps(sorted(m for m in sys.modules
                        if m.split(".")[0] in ("sqlalchemy", "alembic", "dask", "distributed",
                                               "psycopg", "flask"))))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
