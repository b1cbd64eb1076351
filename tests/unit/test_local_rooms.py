"""`local/` has no import circle and no module over 400 lines (issue #19 item 2).

Every import counts, including those inside functions (a deferred import is still a dependency: the
old circle stack -> sam -> invoke -> stack was made of them) and those under ``TYPE_CHECKING``."""

from __future__ import annotations

import ast
from pathlib import Path

LOCAL = Path(__file__).resolve().parents[2] / "local"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(LOCAL.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(LOCAL.rglob("*.py"))}


def _imports(path: Path, known: set[str], own_package: str = "local.") -> set[str]:
    """The ``local`` modules ``path`` imports (a package's ``__init__`` stands for the package), but for
    the packages ``own_package`` (``local.`` and, for ``local.emulator.actor``, ``local.emulator.``),
    which Python imports before the module itself."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from local.emulator import state` imports the module local.emulator.state
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and not own_package.startswith(name + "."):  # a module's own packages are imported first anyway
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, known, name + ".") - {name} for name, path in modules.items()}


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import circle of ``edges`` (its modules in order, the first repeated last), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_local_has_no_import_circle():
    assert cycle(graph()) == []


def test_the_check_finds_a_circle():
    edges = graph()
    assert "local.stack" in edges and "local.lambda_containers" in edges["local.stack"]
    edges["local.lambda_containers"] = {*edges["local.lambda_containers"], "local.stack"}  # the old sam <-> stack
    found = cycle(edges)
    assert found[0] == found[-1] and set(found) == {"local.lambda_containers", "local.stack"}


def test_a_deferred_import_counts(tmp_path: Path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from local.stack import LocalStack\n    import local.event_files\n")
    assert _imports(source, {"local", "local.stack", "local.event_files"}, "local.m.") == {"local.stack", "local.event_files"}


def test_no_local_module_is_over_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
