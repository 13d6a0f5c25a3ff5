"""`flask deliveries import`: every line validated as a webhook item, bad lines reported by number and
skipped, duplicates skipped, a second run queues nothing, a dry run writes nothing, the worker delivers."""

import json

import pytest
from sqlalchemy import func, select

from store.models import DELIVERIES
from tests.conftest import make_worker, store_of

ALIASES = ["email", "E-mail", "email_address", "Mail", "subscriber_email"]


def suppression_list(tmp_path, count, kind):
    """A file of `count` lines: 1% invalid, 5% repeats of earlier lines, the email column under varied aliases."""
    lines, expected = [], {"invalid": 0, "duplicates": 0, "valid": set()}
    for i in range(count):
        if i % 100 == 7:
            address, group = f"broken-{i}@", "Main"
            expected["invalid"] += 1
        elif i % 20 == 3:  # the line before, again (never itself broken or a repeat)
            address, group = f"person{i - 1}@example.com", "Main"
            expected["duplicates"] += 1
        else:
            address, group = f"person{i}@example.com", "Main"
        lines.append((address, group))
        if not address.startswith("broken"):
            expected["valid"].add(address)
    path = tmp_path / f"list.{kind}"
    alias = ALIASES[count % len(ALIASES)]
    if kind == "csv":
        body = f"{alias},Group\n" + "".join(f"{a},{g}\n" for a, g in lines)
    elif kind == "jsonl":
        body = "".join(json.dumps({ALIASES[n % 5]: a, "list": g}) + "\n" for n, (a, g) in enumerate(lines))
    else:
        body = "".join(f"{a}\n" for a, _ in lines)
    path.write_text(body, encoding="utf-8")
    return path, expected


def run_import(app, path, *args):
    result = app.test_cli_runner().invoke(args=["deliveries", "import", str(path), "--to",
                                                              "justclick", *args])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    return json.loads(result.stdout), [json.loads(line) for line in result.stderr.splitlines()]


def rows(app):
    with store_of(app).engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(DELIVERIES)).scalar()


@pytest.mark.parametrize("kind", ["csv", "jsonl", "plain"])
def test_import_validates_dedups_and_is_idempotent(store_app, justclick, tmp_path, kind):
    path, expected = suppression_list(tmp_path, 600, kind)
    dry, _ = run_import(store_app, path, "--dry-run")
    assert rows(store_app) == 0 and dry["dry_run"] is True
    first, bad = run_import(store_app, path)
    valid = len(expected["valid"])
    assert first == {"read": 600, "queued": valid, "duplicates": expected["duplicates"],
                     "invalid": expected["invalid"], "dry_run": False,
                     "lines": {"read": 600, "invalid": expected["invalid"]},
                     "deliveries": {"queued": valid, "duplicates": expected["duplicates"]}}
    assert {k: dry[k] for k in ("read", "queued", "duplicates", "invalid")} == {
        k: first[k] for k in ("read", "queued", "duplicates", "invalid")}
    assert [b["line"] for b in bad] == [i + 1 + (kind == "csv") for i in range(600) if i % 100 == 7]
    assert all("email" in b["errors"] for b in bad)
    dry_again, _ = run_import(store_app, path, "--dry-run")  # it asks the ledger, as the import does
    again, _ = run_import(store_app, path)
    assert (again["queued"], again["duplicates"], rows(store_app)) == (0, valid + expected["duplicates"], valid)
    assert (dry_again["queued"], dry_again["duplicates"]) == (again["queued"], again["duplicates"])
    for email in expected["valid"]:
        justclick.subscribe(email, "Main")
    make_worker(store_app).drain()
    assert len(justclick.requests) == valid and not justclick.groups["Main"]


def test_import_refuses_an_unconfigured_destination_line_by_line(make_app, tmp_path):
    app = make_app(JUSTCLICK_LOGIN=None)
    path, _ = suppression_list(tmp_path, 3, "plain")
    result = app.test_cli_runner().invoke(args=["deliveries", "import", str(path), "--to",
                                                                "justclick"])
    summary = json.loads(result.stdout)
    assert (summary["queued"], summary["invalid"]) == (0, 3) and rows(app) == 0


@pytest.mark.parametrize("content, lines", [
    (b"", 0), (b"a\n", 1), (b"a", 1), (b"a\nb", 2), (b"a\nb\n", 2), (b"\n\n", 2),
    (b"x" * (1 << 20) + b"\ny", 2),
], ids=["empty", "one", "one-without-newline", "two-without-newline", "two", "blank-lines", "past-a-chunk"])
def test_the_utf8_check_counts_the_lines(tmp_path, content, lines):
    from delivery.imports import check_utf8
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    assert check_utf8(path) == lines
