"""Table tests of serving/'s pure helpers: reading a body under limits, the access log's scrubbing."""

import io
import subprocess
import sys

import pytest

from serving.accesslog import printable, query_names, scrub
from serving.body import Refused, read_whole
from tests.procs import ROOT

LIMIT = 16


class Broken(io.BytesIO):
    def read(self, size=-1):
        raise ConnectionResetError("peer gone")


def environ(body=b"", length=None, chunked=False, stream=None):
    env = {"wsgi.input": stream if stream is not None else io.BytesIO(body)}
    if length is not None:
        env["CONTENT_LENGTH"] = str(length)
    if chunked:
        env["HTTP_TRANSFER_ENCODING"] = "chunked"
    return env


@pytest.mark.parametrize("env,outcome", [
    (environ(b"email=a%40b.c", 13), b"email=a%40b.c"),
    (environ(b"x" * LIMIT, LIMIT), b"x" * LIMIT),
    (environ(b"x" * LIMIT, chunked=True), b"x" * LIMIT),
    (environ(b"", 0), b""),
    (environ(b"x" * (LIMIT + 1), chunked=True), 413),
    (environ(b"x" * (LIMIT + 1)), b""),  # neither a length nor chunks: no body (RFC 9112), nothing read
    (environ(b"", LIMIT + 1), 413),
    (environ(b"group=Ma", 10), 400),
    (environ(b"abc", "3x"), 400),
    (environ(length=5, stream=Broken()), 400),
], ids=["whole", "exactly-the-limit", "chunked-under-the-limit", "empty", "chunked-over-the-limit",
        "undeclared-is-no-body", "declared-over-the-limit", "shorter-than-declared", "length-not-a-number",
        "connection-reset"])
def test_read_whole(env, outcome):
    if isinstance(outcome, bytes):
        assert read_whole(env, LIMIT, 5.0) == outcome
    else:
        with pytest.raises(Refused) as refused:
            read_whole(env, LIMIT, 5.0)
        assert refused.value.status == outcome


@pytest.mark.parametrize("text,expected", [
    ("/hooks/unsubscribe?token=abc&email=a@b.com", "/hooks/unsubscribe?token=*&email=*"),
    ("/x/jane.doe@example.com/y", "/x/j***@e***.com/y"),
    ("Invalid HTTP request line: 'GET /h?key=k1 extra'", "Invalid HTTP request line: 'GET /h?key=* extra'"),
    ("/a\r\nFORGED \"quoted\"", "/a\\x0d\\x0aFORGED \\x22quoted\\x22"),
    ("/healthz", "/healthz"),
], ids=["query-values", "address-in-path", "quoted-request-line", "control-characters-and-quotes", "plain"])
def test_scrub(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("query,expected", [("token=t&email=a%40b.c&dry_run=1", "token=*&email=*&dry_run=*"),
                                            ("", ""), ("flag", "flag=*")], ids=["values-hidden", "none", "bare"])
def test_query_names(query, expected):
    assert query_names(query) == expected


def test_printable_leaves_text_alone():
    assert printable("Zapier/1.0 (+https://zapier.com)") == "Zapier/1.0 (+https://zapier.com)"


def test_gunicorn_master_imports_nothing_that_gevent_must_patch_first():
    """The master loads the worker and logger classes before workers monkey-patch: psycopg picks its wait
    function at import, so imported there it would block the gevent hub on every query."""
    probe = ("import sys, serving.worker, serving.accesslog; "
             "print(sorted(m for m in ('psycopg', 'requests', 'sqlalchemy', 'flask', 'app') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "[]"


TOKEN_PATH = "/u/eyJ0IjoiYUBiLmMifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.mark.parametrize("text,expected", [
    (f"POST {TOKEN_PATH} HTTP/1.1", "POST /u/*** HTTP/1.1"),
    (f"GET {TOKEN_PATH}?from=mail HTTP/1.1", "GET /u/***?from=* HTTP/1.1"),
    (f"https://unsub.example.com{TOKEN_PATH}", "https://unsub.example.com/u/***"),
    ("Invalid HTTP request line: 'GET /u/abc.def extra'", "Invalid HTTP request line: 'GET /u/*** extra'"),
    ("/unsubscribe/u", "/unsubscribe/u"),
], ids=["request-line", "with-query", "referer", "quoted-bad-line", "no-link"])
def test_scrub_hides_link_tokens(text, expected):
    assert scrub(text) == expected


@pytest.mark.parametrize("method,body,status", [("POST", b"x" * 2048, 413), ("GET", b"", 400)],
                         ids=["refused-too-large", "page-of-a-forged-link"])
def test_a_link_request_logs_no_token(make_app, caplog, method, body, status):
    app = make_app(LINK_SECRETS="link-secret-for-the-tests-0123456789abcdef", MAX_CONTENT_LENGTH="1024")
    with caplog.at_level("INFO"):
        answer = app.test_client().open(TOKEN_PATH, method=method, data=body,
                                        content_type="application/x-www-form-urlencoded")
    assert answer.status_code == status
    assert "eyJ0Ij" not in caplog.text and "c2lnbmF0" not in caplog.text
    if status == 413:
        assert "request refused route=/u/*** http=413" in caplog.text
