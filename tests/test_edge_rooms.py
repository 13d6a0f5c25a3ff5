"""What the edges share lives in a room below them: edge/ imports no edge above it, public/ and serving/
import nothing of webhooks/, serving/ nothing of the store; under_gevent is one fact for every room."""

import ast
import os

import pytest

from tests.test_structure import SOURCES

ABOVE_EDGE = {"webhooks", "public", "console", "serving", "metrics", "commands", "app", "delivery", "store",
              "connectors"}
RULES = {"edge": ABOVE_EDGE, "public": {"webhooks.auth", "webhooks.logs", "webhooks.limits"},
         "serving": {"webhooks", "store", "delivery", "connectors", "app"}}


def imported_modules(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


@pytest.mark.parametrize("rel", sorted(r for r in SOURCES if r.split(os.sep)[0] in RULES))
def test_shared_pieces_come_from_below(rel):
    forbidden = RULES[rel.split(os.sep)[0]]
    modules = set(imported_modules(SOURCES[rel]))
    bad = {m for m in modules if m in forbidden or m.split(".")[0] in forbidden}
    assert sorted(bad) == []


def test_one_under_gevent():
    from concurrency import under_gevent
    from serving import body
    from store import cooperative
    assert body.under_gevent is cooperative.under_gevent is under_gevent
