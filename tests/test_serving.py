"""The serving model through real gunicorn (the Procfile's web line): slow clients, body limits, JSON
for malformed HTTP, and an access log without tokens or addresses."""

import fcntl
import json
import socket
import subprocess
import sys
import time

import pytest
import requests

from bench.slow_clients import Trickler, slow_requests
from tests.conftest import TRUNCATE_ALL
from tests.helpers import TOKEN
from tests.procs import ROOT, free_port, procfile, spawn, up as _up, wait_for

pytestmark = pytest.mark.slow
BODY_TIMEOUT = 2
MAX_BODY = 1024


def start_web(env, tmp_path, name):
    """The release line, then the web line with two workers and the access log on; stopped by the caller."""
    assert spawn(procfile()["release"], env, tmp_path, f"{name}-release").wait(60) == 0
    port = free_port()
    web = spawn(procfile()["web"], {**env, "PORT": str(port), "WEB_CONCURRENCY": "2", "GUNICORN_ACCESSLOG": "-",
                                    "BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
                                    "MAX_CONTENT_LENGTH": str(MAX_BODY)}, tmp_path, name)
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: _up(base)), (tmp_path / f"{name}.log").read_text()
    return web, port


@pytest.fixture(scope="module")
def module_env(justclick, mailkit, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serving")
    return tmp, {
        "JUSTCLICK_LOGIN": justclick.login, "JUSTCLICK_SECRET": justclick.secret, "JUSTCLICK_GROUP": "Main",
        "JUSTCLICK_API_URL": f"{justclick.base}/{{login}}/api/", "MAILKIT_CLIENT_ID": mailkit.client_id,
        "MAILKIT_CLIENT_MD5": mailkit.client_md5, "MAILKIT_API_URL": mailkit.url("json"),
        "UPSTREAM_TIMEOUT": "2", "WEBHOOK_TOKENS": TOKEN, "DATABASE_URL": f"sqlite:///{tmp / 'ledger.sqlite3'}"}


@pytest.fixture(scope="module")
def web(module_env):
    """(port, log path) of one gunicorn on SQLite for the whole module."""
    tmp, env = module_env
    proc, port = start_web(env, tmp, "web")
    yield port, tmp / "web.log"
    proc.terminate()
    proc.wait(30)


def exchange(port, raw, timeout=10):
    """Send raw bytes, then read the whole answer: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and hung up before the last byte: its answer is still readable
        answer = read_answer(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def read_answer(sock):
    """Everything the server sends until it hangs up (a reset after a refusal ends it too)."""
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def assert_json_error(status, headers, body, expected):
    assert status == expected, body
    assert headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert set(answer) == {"status", "message"} and answer["status"] in ("invalid", "error") and answer["message"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store_web(request, module_env, web, tmp_path):
    if request.param == "sqlite":
        yield web[0]
        return
    import psycopg
    url = request.getfixturevalue("pg_database")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TRUNCATE_ALL)
    proc, port = start_web({**module_env[1], "DATABASE_URL": url}, tmp_path, "web-pg")
    yield port
    proc.terminate()
    proc.wait(30)


def test_slow_clients_do_not_starve_webhooks(any_store_web, justclick):
    port = any_store_web
    trickler = Trickler(port, slow_requests(60, port, f"/hooks/justclick?token={TOKEN}"), every=0.25)
    trickler.thread.start()
    time.sleep(1.0)  # every slow socket connected and holding on
    took, session = [], requests.Session()
    try:
        for n in range(50):
            started = time.monotonic()
            answer = session.post(f"http://127.0.0.1:{port}/hooks/justclick", json={"email": f"n{n}@example.com"},
                                  headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            took.append(time.monotonic() - started)
            assert answer.status_code == 200, answer.text
            time.sleep(0.08)
    finally:
        trickler.stop.set()
        trickler.thread.join(10)
    assert max(took) < 1.0, sorted(took)[-5:]
    sent = [r["body"].decode() for r in justclick.requests]
    assert len(sent) == 50 and not any("slow" in body for body in sent)
    assert trickler.connections >= 60
    refused = [a for a in trickler.answers if a.startswith(b"HTTP/1.1 408")]
    assert refused and all(b'"status": "invalid"' in a for a in refused)  # bodies cut at BODY_TIMEOUT


def test_body_trickled_past_the_deadline_is_refused(web, justclick):
    port, _ = web
    body = b"email=late%40example.com&group=Main"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST /hooks/justclick?token={TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     f"application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        started = time.monotonic()
        for byte in body[:-1]:  # a byte every 0.1 s, never the last one: only the deadline ends it
            sock.send(bytes([byte]))
            if _answered(sock):
                break
            time.sleep(0.1)
        answer = read_answer(sock)
    assert BODY_TIMEOUT - 0.2 < time.monotonic() - started < BODY_TIMEOUT + 1.0
    status, _, rest = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 408") and json.loads(rest)["status"] == "invalid"
    assert justclick.requests == []


def _answered(sock):
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False


def test_chunked_body_over_the_limit_is_413_and_nothing_sent(web, justclick):
    port, _ = web
    body = json.dumps({"email": "big@example.com", "group": "Main", "pad": "x" * MAX_BODY}).encode()
    answer = requests.post(f"http://127.0.0.1:{port}/hooks/justclick?token={TOKEN}", timeout=10,
                           data=iter([body[:500], body[500:]]), headers={"Content-Type": "application/json"})
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    assert answer.status_code == 413 and answer.json()["status"] == "error"
    assert justclick.requests == []


def test_chunked_body_under_the_limit_is_served(web, justclick):
    port, _ = web
    body = json.dumps({"email": "chunked@example.com"}).encode()
    answer = requests.post(f"http://127.0.0.1:{port}/hooks/justclick?token={TOKEN}", timeout=10,
                           data=iter([body[:10], body[10:]]), headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.json()["status"] == "not_subscribed"
    assert len(justclick.requests) == 1


def test_body_shorter_than_its_content_length_is_refused_and_nothing_sent(web, justclick):
    port, _ = web
    body = b"email=short%40example.com&group=Main"  # cut two bytes short it still parses: group=Ma
    head = (f"POST /hooks/justclick?token={TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Type: "
            f"application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    status, headers, answer = exchange(port, head + body[:-2])
    assert_json_error(status, headers, answer, 400)
    assert justclick.requests == []


LONG_HEADER = b"X-Long: " + b"a" * 9000 + b"\r\n"
MALFORMED = [
    (b"POST /hooks/justclick HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
    (b"POST /hooks/justclick HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + LONG_HEADER + b"\r\n", 431),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /healthz?token=abc HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400),
    (b"G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    (b"POST /hooks/justclick HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    (b"POST /hooks/justclick HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
]


@pytest.mark.parametrize("raw,expected", MALFORMED, ids=[
    "bad-content-length", "two-content-lengths", "over-long-header-line", "over-long-request-line",
    "invalid-request-line", "invalid-method", "bad-chunk-size", "unsupported-transfer-coding"])
def test_malformed_http_gets_the_json_error_shape(web, justclick, raw, expected):
    status, headers, body = exchange(web[0], raw)
    assert_json_error(status, headers, body, expected)
    assert justclick.requests == []


@pytest.mark.parametrize("target,allow", [("/hooks/justclick", "OPTIONS, POST, PUT"),
                                          ("*", "GET, HEAD, OPTIONS, POST, PUT")], ids=["route", "server"])
def test_options_answers_json(web, target, allow):
    status, headers, body = exchange(web[0], f"OPTIONS {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 200 and headers["allow"] == allow and headers["content-type"] == "application/json"
    assert json.loads(body) == {"status": "ok", "allow": allow.split(", ")}


def test_access_log_has_no_token_address_or_forged_line(web):
    port, log = web
    base = f"http://127.0.0.1:{port}"
    requests.post(f"{base}/hooks/unsubscribe?token={TOKEN}&email=someone@example.com&dry_run=1", timeout=10, json={},
                  headers={"Referer": "https://forms.example/page?key=k-secret-1&email=ref@example.com"})
    requests.get(f"{base}/nowhere/who@example.com%0d%0aFORGED%20line", timeout=10)
    exchange(port, b"GET /healthz?token=in-a-bad-line\r\nHost: x\r\n\r\n")  # gunicorn quotes the line
    assert wait_for(lambda: "/nowhere/" in log.read_text() and "Invalid HTTP request line" in log.read_text(), 5)
    text = log.read_text()
    for secret in (TOKEN, "someone@example.com", "k-secret-1", "ref@example.com", "who@example.com",
                   "in-a-bad-line"):
        assert secret not in text
    assert not any(line.startswith("FORGED") for line in text.splitlines())
    hook = next(line for line in text.splitlines() if "/hooks/unsubscribe" in line)
    assert '"POST /hooks/unsubscribe?token=*&email=*&dry_run=* HTTP/1.1" 200' in hook
    assert "/nowhere/w***@e***.com\\x0d\\x0aFORGED line" in text


WAIT_FOR_LOCK = """
from gevent import monkey; monkey.patch_all()
import fcntl, json, os, sys, time, gevent
from store.cooperative import lock_exclusive
fd, ticks = os.open(sys.argv[1], os.O_RDWR), []
def tick():
    while True:
        ticks.append(1)
        gevent.sleep(0.01)
gevent.spawn(tick)
gevent.sleep(0)
print("waiting", flush=True)
started = time.monotonic()
lock_exclusive(fd) if sys.argv[2] == "lock_exclusive" else fcntl.flock(fd, fcntl.LOCK_EX)
print(json.dumps({"waited": time.monotonic() - started, "ticks": len(ticks)}))
"""


@pytest.mark.parametrize("how,cooperative", [("lock_exclusive", True), ("flock", False)],
                         ids=["lock_exclusive-lets-greenlets-run", "plain-flock-stops-the-hub"])
def test_waiting_for_the_ledger_lock_under_gevent(tmp_path, how, cooperative):
    path = tmp_path / "ledger.writelock"
    path.touch()
    with open(path) as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process holds the SQLite write lock for 0.5 s
        waiter = subprocess.Popen([sys.executable, "-c", WAIT_FOR_LOCK, str(path), how], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True)
        assert waiter.stdout.readline() == "waiting\n"
        time.sleep(0.5)
        fcntl.flock(held, fcntl.LOCK_UN)
    result = json.loads(waiter.communicate(timeout=30)[0])
    assert result["waited"] > 0.4
    assert (result["ticks"] > 10) is cooperative, result  # a tick every 10 ms while it waited 0.5 s
