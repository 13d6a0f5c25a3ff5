"""The house rules, checked on the source: short modules and functions, imports that point inward only."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRODUCTION = ("app.py", "settings.py", "status.py", "errors.py", "i18n.py", "pages.py", "masking.py",
              "concurrency.py", "limitstorage.py", "commands", "edge", "connectors", "delivery", "links", "metrics",
              "public", "console", "sandbox", "schemas", "serving", "store", "webhooks")
EDGE = ("app.py", "pages.py", "commands", "webhooks", "public", "console", "metrics", "edge", "serving")
LOWER = ("store", "connectors", "sqlalchemy", "requests")  # the edge reaches these only through delivery/
# Rooms and what they may import (first-party), inward only.
MAY_IMPORT = {
    "schemas": {"schemas", "errors", "status"},
    "connectors": {"connectors", "schemas", "errors", "status", "concurrency"},
    "store": {"store", "errors", "status", "concurrency"},
    "delivery": {"delivery", "store", "connectors", "schemas", "errors", "status", "masking", "limitstorage"},
}


def modules():
    for entry in PRODUCTION:
        path = os.path.join(ROOT, entry)
        if os.path.isfile(path):
            yield entry, path
        for folder, _, files in os.walk(path):
            for name in files:
                if name.endswith(".py"):
                    full = os.path.join(folder, name)
                    yield os.path.relpath(full, ROOT), full


def imported(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module.split(".")[0]


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


SOURCES = {rel: read(full) for rel, full in modules()}


@pytest.mark.parametrize("rel", sorted(SOURCES))
def test_module_is_short(rel):
    assert len(SOURCES[rel].splitlines()) <= 300


@pytest.mark.parametrize("rel", sorted(SOURCES))
def test_functions_are_short(rel):
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(SOURCES[rel]))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 40]
    assert long == []


@pytest.mark.parametrize("rel", sorted(r for r in SOURCES if r.split(os.sep)[0] in EDGE))
def test_the_edge_imports_no_lower_room(rel):
    assert sorted(set(imported(ast.parse(SOURCES[rel]))) & set(LOWER)) == []


@pytest.mark.parametrize("rel", sorted(r for r in SOURCES if r.split(os.sep)[0] in MAY_IMPORT))
def test_inner_rooms_import_inward_only(rel):
    room = rel.split(os.sep)[0]
    first_party = {entry.removesuffix(".py") for entry in PRODUCTION}
    outward = set(imported(ast.parse(SOURCES[rel]))) & first_party - MAY_IMPORT[room]
    assert sorted(outward) == []
