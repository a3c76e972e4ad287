"""Dependencies point one way (ARCHITECTURE.md): keys <- ledger, identity <- verifier <- xacthuc, and no module
imports another that imports it back, directly or through others.

Read from the source, so a forbidden import fails here even if no test happens to execute it. Domain packages also
never import FastAPI outside their ``api/`` folders.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "keys": {"keys"},
    "ledger": {"keys", "ledger"},
    "identity": {"keys", "identity"},
    "verifier": {"keys", "ledger", "identity", "verifier"},
    "xacthuc": {"keys", "ledger", "identity", "verifier", "xacthuc"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _files(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_imports_upwards(package: str) -> None:
    bad = []
    for path in _files(package):
        for module in _imports(path):
            top = module.split(".")[0]
            if top in ALLOWED and top not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)} imports {module}")
    assert bad == []


@pytest.mark.parametrize("package", ["keys", "ledger", "identity", "verifier"])
def test_domain_code_imports_no_web_framework(package: str) -> None:
    bad = []
    for path in _files(package):
        if "api" in path.relative_to(ROOT).parts:
            continue
        bad += [
            f"{path.relative_to(ROOT)} imports {m}"
            for m in _imports(path)
            if m.split(".")[0] in ("fastapi", "starlette")
        ]
    assert bad == []


# --- no import cycle between modules ----------------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, anywhere in its source (top level, in functions, under
    ``TYPE_CHECKING``): an import put inside a function to dodge a cycle is still the cycle.

    ``from package import name`` depends on ``package.name`` when that is a module, else on ``package``; importing a
    submodule is not counted as depending on its package's ``__init__``.
    """
    paths = {_module_name(p): p for package in ALLOWED for p in _files(package)}

    def ours(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base)
        graph[module] = {t for t in map(ours, targets) if t is not None and t != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one cycle through them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_one_cycle(graph, set(c)) for c in components]


def _one_cycle(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """A shortest cycle through the first member of a strongly connected component (breadth first)."""
    start = min(members)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    raise AssertionError("not a strongly connected component")


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules() -> None:
    cycles = [" -> ".join(c) for c in _cycles(_module_graph())]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)
