"""The parts import-linter cannot see (pyproject.toml holds the layer's contracts): the functions are
not a package, so their imports are read here; and every import deferred into a function body is a
documented cold-start deferral."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted((ROOT / "functions").glob("*/app.py"))
LAYER = sorted((ROOT / "layers" / "common" / "b24sms").rglob("*.py"))

# What a thin handler may import of the layer: the HTTP edge, use cases, domain types and errors, and
# the few adapters a handler shapes its answer with (metrics, the SQS record helpers, carrier parsing,
# Bitrix24's error type, the deployment's settings). Never the store or the AWS clients; never boto3 or requests.
ALLOWED: tuple[str, ...] = (
    "b24sms.api",
    "b24sms.usecases",
    "b24sms.domain",
    "b24sms.adapters.telemetry",
    "b24sms.adapters.queues",
    "b24sms.adapters.carriers",
    "b24sms.adapters.bitrix",
    "b24sms.adapters.config",
)
FORBIDDEN = ("boto3", "botocore", "requests", "b24sms.adapters.store", "b24sms.adapters.aws")


def imported(tree: ast.AST) -> list[tuple[str, ast.stmt]]:
    found: list[tuple[str, ast.stmt]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.extend((f"{node.module}.{alias.name}", node) for alias in node.names)
    return found


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", FUNCTIONS, ids=lambda p: p.parent.name)
def test_handlers_import_only_the_edge_use_cases_and_domain(path: Path):
    tree = ast.parse(path.read_text())
    names = [name for name, _ in imported(tree)]
    assert not [n for n in names if under(n, FORBIDDEN)], path
    ours = [n for n in names if n.startswith("b24sms")]
    assert ours and all(under(n, ALLOWED) for n in ours), ours
    top = {id(node) for node in tree.body}
    assert all(id(node) in top for _, node in imported(tree)), f"{path}: imports inside functions"


def test_imports_inside_functions_are_documented_cold_start_deferrals():
    undocumented = []
    for path in LAYER:
        source = path.read_text()
        lines = source.splitlines()
        tree = ast.parse(source)
        deferred = [n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for n in ast.walk(f) if n is not f]
        for node in deferred:
            if isinstance(node, ast.Import | ast.ImportFrom):
                text = " ".join(lines[node.lineno - 1 : (node.end_lineno or node.lineno)])
                if "cold start" not in text:
                    undocumented.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert undocumented == []


@pytest.mark.parametrize("path", FUNCTIONS, ids=lambda p: p.parent.name)
def test_handlers_are_thin(path: Path):
    """Parse, authenticate, one use case, answer (issue #19): no handler over 80 lines, and none renders
    or translates itself: the page's presentation is the layer's ``b24sms.api.page_view``."""
    source = path.read_text()
    assert len(source.splitlines()) <= 80, f"{path}: {len(source.splitlines())} lines"
    assert not [n for n, _ in imported(ast.parse(source)) if n.split(".")[0] == "jinja2"], path


def test_module_names_say_whose_word_they_are():
    """One word, one thing (issue #19): our dispatch states vs Bitrix24's statuses, Bitrix24 events vs
    SNS events vs the sample files of events/; no layer or local/ module is named by the bare word."""
    bare = {"states", "statuses", "routes", "events"}
    modules = [*LAYER, *(ROOT / "local").glob("*.py")]
    assert not [str(p.relative_to(ROOT)) for p in modules if p.stem in bare]
