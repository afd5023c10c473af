"""The modules of ``afis`` import each other without cycles, and nothing dodges one.

(a) The graph of module-level imports between ``afis`` modules (``if TYPE_CHECKING:`` blocks
left out) has no cycle. ``from afis.x import y`` is an edge to ``afis.x.y`` where that is a
module, to ``afis.x`` otherwise; ``import afis.x.y`` to ``afis.x.y``; relative imports alike.

(b) An ``afis`` module imported inside a function is listed in :data:`ALLOWED_LAZY` with
its reason: a function-level import that exists only to break a cycle fails here. Move the
shared code to a module both sides can import instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

# The sources are parsed, never imported: a cycle must be reported, not crash the import.
ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "afis"

#: Folders (relative to the repository root) not checked (none: the data centre that once
#: lived in afis/centre is the enrollment layer now).
EXCLUDED: tuple[str, ...] = ()

#: "module:function" -> why that function imports an afis module on first use.
ALLOWED_LAZY: dict[str, str] = {
    "afis.bench.identify:IdentifyReport.format_table": "afis.index.candidate loads faiss "
    "and numba (about a second): only for the report of the identification benchmark",
    "afis.bench.identify:synthetic_mates": "afis.synth loads numba and its kernels",
    "afis.bench.identify:identify_benchmark": "afis.index loads faiss and numba",
    "afis.cli:_bench_identify": "afis.index loads faiss and numba only for this command",
    "afis.cli:_bench_dedup": "afis.bench.dedup loads faiss and numba (people gallery, synth) "
    "only for this command",
}


def _excluded(path: Path) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return any(rel == e or rel.startswith(e + "/") for e in EXCLUDED)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}
    assert "afis.template" in found, f"no afis sources under {PACKAGE_DIR}"
    return found


ALL_MODULES = _modules()
MODULES = {name: path for name, path in ALL_MODULES.items() if not _excluded(path)}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The afis modules an import statement reaches (known modules, longest prefix)."""

    def known(name: str) -> str | None:
        while name and name not in ALL_MODULES:
            name = name.rpartition(".")[0]
        return name or None

    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name.split(".")[0] == "afis"]
        return [t for t in map(known, names) if t]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    if base.split(".")[0] != "afis":
        return []
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        target = sub if sub in ALL_MODULES else known(base)
        if target:
            out.append(target)
    return out


def _imports(name: str, path: Path) -> Iterator[tuple[str | None, str, int]]:
    """(function or None at module level, imported afis module, line) of every import."""
    is_package = path.name == "__init__.py"

    def walk(body: list[ast.stmt], function: str | None, scope: str) -> Iterator:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, name, is_package):
                    yield function, target, node.lineno
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.orelse, function, scope)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qualname = f"{scope}.{node.name}" if scope else node.name
                yield from walk(node.body, function or qualname, qualname)
            elif isinstance(node, ast.ClassDef):
                qualname = f"{scope}.{node.name}" if scope else node.name
                yield from walk(node.body, function, qualname)
            else:  # if/try/with/for/while/match bodies run where the statement runs
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        yield from walk([child], function, scope)
                    elif isinstance(child, (ast.excepthandler, ast.match_case)):
                        yield from walk(child.body, function, scope)

    yield from walk(ast.parse(path.read_text(encoding="utf-8"), str(path)).body, None, "")


def import_graph() -> dict[str, set[str]]:
    """Module-level import edges between the checked afis modules."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for function, target, _ in _imports(name, path):
            if function is None and target in MODULES and target != name:
                graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a list of modules, the first repeated at the end) per strongly connected
    component of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(component)
    return [_cycle_in(graph, component) for component in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A path from the smallest member back to itself inside one component (BFS)."""
    start = min(component)
    parent: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & component):
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if child not in parent:
                parent[child] = node
                queue.append(child)
    raise AssertionError(f"no cycle in component {sorted(component)}")


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_the_imports() -> None:
    graph = import_graph()
    assert "afis.template" in graph["afis.interchange.minutiae"]
    assert "afis.interchange.iso19794_2_card" in graph["afis.interchange.convert"]
    assert not any(name.startswith("afis.centre") for name in graph)  # moved to enrollment


def test_no_import_cycles_inside_afis() -> None:
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles between afis modules:\n" + "\n".join(
        "  " + " -> ".join(cycle) for cycle in cycles
    )


def test_function_level_imports_of_afis_modules_are_allowed_lazy_imports() -> None:
    found: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        for function, target, line in _imports(name, path):
            if function is not None:
                found.setdefault(f"{name}:{function}", []).append(f"{target} (line {line})")
    unlisted = {key: targets for key, targets in found.items() if key not in ALLOWED_LAZY}
    assert not unlisted, (
        "function-level imports of afis modules (import at module level, or move the shared "
        "code so no cycle needs dodging; a genuinely lazy heavy import goes in ALLOWED_LAZY "
        "with its reason):\n"
        + "\n".join(f"  {key}: {', '.join(targets)}" for key, targets in sorted(unlisted.items()))
    )
    stale = sorted(set(ALLOWED_LAZY) - set(found))
    assert not stale, f"ALLOWED_LAZY lists functions that import no afis module: {stale}"
