"""`flask deliveries import` against hostile files: a bad line is reported by number and skipped (the lines
after it are queued, and a rerun goes past it again); a file that is not UTF-8 is refused before anything is
queued, with a clear message, exit 1 and no traceback."""

import codecs
import json

import pytest

from tests.test_import import rows

GOOD = [f"ok{n}@example.com" for n in range(3)]
DEEP = "[" * 100_000 + "]" * 100_000
HUGE = "x" * (129 * 1024)  # over csv's 128 KiB field limit


def jsonl(*lines):
    return "".join(line + "\n" for line in lines).encode()


def obj(value):
    return json.dumps({"email": value})


def csv_lines(*lines, header="email"):
    return ("".join(line + "\n" for line in ((header,) if header else ()) + lines)).encode()


# (file bytes, lines reported bad) for files whose every good line is queued.
SKIPPED = [
    (jsonl(obj(GOOD[0]), '{"email": ' + DEEP + "}", obj(GOOD[1]), obj(GOOD[2])), [2]),
    (jsonl('{"email": ' + DEEP + "}", obj(GOOD[0]), obj(GOOD[1]), obj(GOOD[2])), [1]),
    (jsonl(obj(GOOD[0]), "{" * 100_000, obj(GOOD[1]), '{"email": "' + HUGE + '"}', obj(GOOD[2])), [2, 4]),
    (jsonl(obj(GOOD[0]), obj({"a": 1}), obj(["x", "y"]), obj(7), obj(None), '{"email": ' + "9" * 5000 + "}",
           obj(GOOD[1]), "[1]", "not json", obj(GOOD[2])), [2, 3, 4, 5, 6, 8, 9]),
    (csv_lines(GOOD[0], HUGE, GOOD[1], GOOD[2]), [3]),
    (csv_lines(HUGE + "@example.com", *GOOD, header=None), [1]),
    (csv_lines(f"{GOOD[0]},a", f"x@example.com,{HUGE}", f"{GOOD[1]},b", f"{GOOD[2]},c",
               f"y@example.com,{HUGE}", header="email,name"), [3, 6]),
    (csv_lines(*GOOD).replace(b"\n", b"\r\n"), []),
    (codecs.BOM_UTF8 + csv_lines(*GOOD), []),
    (codecs.BOM_UTF8 + jsonl(*map(obj, GOOD)), []),
]
SKIPPED_IDS = ["jsonl-100000-deep", "jsonl-deep-first-line", "jsonl-unclosed-and-huge", "jsonl-wrong-types",
               "csv-field-over-128k", "plain-first-line-over-128k", "csv-two-huge-fields", "crlf",
               "utf8-bom-csv", "utf8-bom-jsonl"]

# (file bytes, what the refusal says) for files refused as a whole.
REFUSED = [
    (codecs.BOM_UTF16_LE + "\n".join(["email", *GOOD]).encode("utf-16-le"), "UTF-16"),
    (codecs.BOM_UTF16_BE + "\n".join(["email", *GOOD]).encode("utf-16-be"), "UTF-16"),
    (codecs.BOM_UTF32_LE + "\n".join(["email", *GOOD]).encode("utf-32-le"), "UTF-32"),
    ("\n".join(["email", *GOOD]).encode("utf-16-le"), "line 1 holds a NUL byte"),
    (csv_lines(GOOD[0], GOOD[1]) + "zoë@example.com\n".encode("latin-1") + csv_lines(GOOD[2], header=None),
     "line 4 is not UTF-8"),
    (csv_lines(*GOOD) + "é".encode()[:1], "ends inside a character"),
]
REFUSED_IDS = ["utf16-le-bom", "utf16-be-bom", "utf32-le-bom", "utf16-without-bom", "latin1-byte-late",
               "truncated-character"]


def import_file(app, tmp_path, body):
    """Run the import on a file of these bytes: (exit code, summary or None, bad line numbers, output)."""
    path = tmp_path / "list.txt"
    path.write_bytes(body)
    result = app.test_cli_runner().invoke(args=["deliveries", "import", str(path), "--to", "justclick"])
    crashed = isinstance(result.exception, (ValueError, RecursionError, UnicodeError))
    assert "Traceback" not in result.output and not crashed, result.output
    if result.exit_code:
        return result.exit_code, None, None, result.output
    errors = [json.loads(line) for line in result.stderr.splitlines()]
    return 0, json.loads(result.stdout), [e["line"] for e in errors], result.output


@pytest.mark.parametrize("body, bad", SKIPPED, ids=SKIPPED_IDS)
def test_a_bad_line_is_reported_and_skipped(make_app, tmp_path, body, bad):
    app = make_app()
    code, summary, lines, _ = import_file(app, tmp_path, body)
    assert (code, lines, summary["invalid"], summary["queued"]) == (0, bad, len(bad), len(GOOD)), summary
    assert rows(app) == len(GOOD)
    again = import_file(app, tmp_path, body)  # a rerun goes past the same lines and queues nothing new
    assert (again[1]["queued"], again[1]["duplicates"], again[2]) == (0, len(GOOD), bad)


@pytest.mark.parametrize("body, needle", REFUSED, ids=REFUSED_IDS)
def test_a_file_that_is_not_utf8_is_refused_before_anything_is_queued(make_app, tmp_path, body, needle):
    app = make_app()
    code, _, _, output = import_file(app, tmp_path, body)
    assert code == 1 and needle in output and "save it as UTF-8" in output, output
    assert rows(app) == 0
