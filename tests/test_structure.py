"""The house rules, checked on the source: short modules and functions, imports that point inward only, and
what the HTTP edges share lives in a room below them. One test per rule; its message names every offender."""

import ast
import functools
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRODUCTION = ("app.py", "settings.py", "status.py", "errors.py", "i18n.py", "pages.py", "masking.py",
              "concurrency.py", "limitstorage.py", "commands", "edge", "connectors", "delivery", "links",
              "metrics", "public", "console", "sandbox", "schemas", "serving", "store", "webhooks", "docsite")
FIRST_PARTY = {entry.removesuffix(".py") for entry in PRODUCTION}
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 40
EDGE = ("app", "pages", "commands", "webhooks", "public", "console", "metrics", "edge", "serving", "docsite")
LOWER = {"store", "connectors", "sqlalchemy", "requests"}  # the edge reaches these only through delivery/
# Rooms and what they may import (first-party), inward only.
MAY_IMPORT = {
    "schemas": {"schemas", "errors", "status"},
    "connectors": {"connectors", "schemas", "errors", "status", "concurrency"},
    "store": {"store", "schemas", "errors", "status", "concurrency"},  # schemas: the shapes it stores
    "delivery": {"delivery", "store", "connectors", "schemas", "errors", "status", "masking", "limitstorage"},
}
# What the edges share sits below them: edge/ imports no room above it, public/ none of webhooks/' own
# pieces, serving/ (imported by gunicorn's master before it forks) nothing that opens connections.
NOT_FROM = {
    "edge": {"webhooks", "public", "console", "serving", "metrics", "commands", "app", "delivery", "store",
             "connectors"},
    "public": {"webhooks.auth", "webhooks.logs", "webhooks.limits"},
    "serving": {"webhooks", "store", "delivery", "connectors", "app"},
}


def modules():
    """(path relative to the root, full path) of every production module."""
    for entry in PRODUCTION:
        path = os.path.join(ROOT, entry)
        if os.path.isfile(path):
            yield entry, path
        for folder, _, files in os.walk(path):
            for name in sorted(files):
                if name.endswith(".py"):
                    full = os.path.join(folder, name)
                    yield os.path.relpath(full, ROOT).replace(os.sep, "/"), full


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


SOURCES = {rel: read(full) for rel, full in modules()}


@functools.cache
def parse(source):
    """The syntax tree of a module's source, parsed once for every rule."""
    return ast.parse(source)


def room(rel):
    return rel.split("/")[0].removesuffix(".py")


def imported_modules(tree):
    """Full names of the modules a module imports absolutely (`a.b` for `from a.b import c`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def imported_rooms(tree):
    return {name.split(".")[0] for name in imported_modules(tree)}


# Each rule: (path, source) -> the problems of that module, [] when it keeps the rule.
def module_length(rel, source):
    lines = len(source.splitlines())
    return [f"{lines} lines (at most {MAX_MODULE_LINES})"] if lines > MAX_MODULE_LINES else []


def function_length(rel, source):
    return [f"{node.name}() has {node.end_lineno - node.lineno + 1} lines (at most {MAX_FUNCTION_LINES})"
            for node in ast.walk(parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def edge_reaches_lower_room(rel, source):
    if room(rel) not in EDGE:
        return []
    return [f"imports {name} (the edge goes through delivery/)"
            for name in sorted(imported_rooms(parse(source)) & LOWER)]


def inner_room_imports_outward(rel, source):
    allowed = MAY_IMPORT.get(room(rel))
    if allowed is None:
        return []
    return [f"imports {name} (an inner room imports inward only)"
            for name in sorted(imported_rooms(parse(source)) & FIRST_PARTY - allowed)]


def shared_piece_from_above(rel, source):
    forbidden = NOT_FROM.get(room(rel), set())
    return [f"imports {name} (what the edges share comes from below)"
            for name in sorted(set(imported_modules(parse(source))))
            if name in forbidden or name.split(".")[0] in forbidden]


# Dependencies are passed, not looked up: app.py builds the Relay (delivery.build_relay, from settings it is
# given) and hands each room what it uses. Besides app.py, only these may look the app's parts up:
LOOK_UPS_ALLOWED = {
    "commands/__init__.py",  # pass_relay: `flask` hands its module-level commands the app, not the relay
}


def looked_up(node):
    """What `node` looks up of the app's parts: current_app.extensions, or config["SETTINGS"] of any app."""
    if isinstance(node, ast.Attribute) and node.attr == "extensions" \
            and isinstance(node.value, ast.Name) and node.value.id == "current_app":
        return "current_app.extensions"
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
            and node.value.attr == "config" and isinstance(node.slice, ast.Constant) \
            and node.slice.value == "SETTINGS":
        return 'config["SETTINGS"]'
    return None


def looks_up_dependencies(rel, source):
    if rel == "app.py" or rel in LOOK_UPS_ALLOWED:
        return []
    return [f"line {node.lineno}: {found} (take it as an argument: init_app(app, relay) hands it over)"
            for node in ast.walk(parse(source)) if (found := looked_up(node))]


def own_under_gevent(rel, source):
    """Whether this process runs under gevent is one fact, answered by concurrency.py alone."""
    if rel == "concurrency.py":
        return []
    return [f"defines {node.name}() (import it from concurrency)" for node in ast.walk(parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "under_gevent"]


# A module each rule must catch, so a rule that checks nothing fails here.
BROKEN = {
    module_length: ("status.py", "x = 1\n" * (MAX_MODULE_LINES + 1)),
    function_length: ("status.py", "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES),
    edge_reaches_lower_room: ("webhooks/routes.py", "from store.ledger import Ledger\n"),
    inner_room_imports_outward: ("store/ledger.py", "from delivery.service import Service\n"),
    shared_piece_from_above: ("public/links.py", "from webhooks.auth import check\n"),
    own_under_gevent: ("serving/body.py", "def under_gevent():\n    return True\n"),
    looks_up_dependencies: ("console/pages.py", "from flask import current_app\n"
                                                "reports = current_app.extensions['reports']\n"
                                                "settings = current_app.config['SETTINGS']\n"),
}


@pytest.mark.parametrize("rule", list(BROKEN), ids=[rule.__name__ for rule in BROKEN])
def test_house_rule(rule):
    assert rule(*BROKEN[rule]), f"{rule.__name__} does not catch its own example"
    broken = [f"{rel}: {problem}" for rel, source in SOURCES.items() for problem in rule(rel, source)]
    assert broken == [], "\n".join(broken)

