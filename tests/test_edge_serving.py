"""The edge through real gunicorn: one client's share of a worker's connections, and no link token in any
log line (gunicorn's access log and the app's log) whatever the request's fate."""

import select
import socket

import pytest
import requests

from links.make import make_link
from links.tokens import LinkSigner
from serving.worker import ConnectionCap, per_client_cap
from tests.conftest import TOKEN
from tests.procs import free_port, procfile, spawn, up as _up, wait_for
from tests.test_serving import BODY_TIMEOUT, MAX_BODY, exchange, read_answer, start_web

SECRET = "link-secret-for-the-tests-0123456789abcdef"
IDLE_CLIENT = "127.0.0.3"  # loopback, another address than the webhook's 127.0.0.1
CONNECTIONS = 100


@pytest.mark.parametrize("worker_connections, hops, cap", [
    (1000, "0", 100), (100, "0", 10), (5, "0", 1), (1000, "1", None), (1000, "", None), (1000, "2", None),
], ids=["default", "small", "tiny", "behind-a-proxy", "default-hops", "two-proxies"])
def test_per_client_cap(worker_connections, hops, cap):
    """Only where the TCP peer is the client: behind a proxy every connection's peer is the proxy."""
    assert per_client_cap(worker_connections, {"TRUSTED_PROXY_HOPS": hops}) == cap


def test_connection_cap_counts_each_client_apart():
    cap = ConnectionCap(2)
    assert [cap.admit("a"), cap.admit("a"), cap.admit("a"), cap.admit("b")] == [True, True, False, True]
    cap.release("a")
    assert cap.admit("a") and not cap.admit("a")
    for key in ("a", "a", "b"):
        cap.release(key)
    assert cap.held == {}


def idle_sockets(port, count):
    """`count` connections from IDLE_CLIENT that never send a byte."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind((IDLE_CLIENT, 0))
        sock.connect(("127.0.0.1", port))
        sockets.append(sock)
    return sockets


def answered(sockets, expected, timeout=15.0):
    """The sockets the server wrote to (or closed), once `expected` of them are (a bounded wait). poll, not
    select: a test run's descriptors may number past select's 1024."""
    poller, by_fd = select.poll(), {sock.fileno(): sock for sock in sockets}
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    readable = lambda: [by_fd[fd] for fd, _ in poller.poll(0)]  # noqa: E731
    wait_for(lambda: len(readable()) >= expected, timeout)
    return readable()


@pytest.mark.slow
def test_one_client_holds_at_most_its_share_of_a_worker(env, tmp_path, justclick):
    port = free_port()
    web = spawn(procfile()["web"], {**env, "PORT": str(port), "WEB_CONCURRENCY": "1", "AUTO_MIGRATE": "1",
                                    "GUNICORN_CONNECTIONS": str(CONNECTIONS), "TRUSTED_PROXY_HOPS": "0",
                                    "GUNICORN_CMD_ARGS": "--keep-alive 60"}, tmp_path, "web")  # idle stays
    cap, sockets = per_client_cap(CONNECTIONS, {"TRUSTED_PROXY_HOPS": "0"}), []
    try:
        assert wait_for(lambda: _up(f"http://127.0.0.1:{port}"), 60), (tmp_path / "web.log").read_text()
        sockets = idle_sockets(port, 3 * CONNECTIONS)
        refused = answered(sockets, len(sockets) - cap)
        answers = [sock.recv(4096) for sock in refused]
        hook = requests.post(f"http://127.0.0.1:{port}/hooks/justclick", json={"email": "q@example.com"},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    finally:
        for sock in sockets:
            sock.close()
        web.terminate()
        web.wait(30)
    assert len(refused) == len(sockets) - cap  # the client's share stays open and idle, the rest is refused
    assert all(a.startswith(b"HTTP/1.1 429 ") and b'"status": "rate_limited"' in a for a in answers)
    assert hook.status_code == 200 and len(justclick.requests) == 1  # another client is served meanwhile


def link_token(target="tok@example.com"):
    return make_link(LinkSigner([SECRET]), "https://u.example.com", target)["url"].rsplit("/u/", 1)[1]


def left_waiting(port, raw):
    """Send `raw` (a body shorter than its length), keep the connection open: the answer at the deadline."""
    with socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT + 10) as sock:
        sock.sendall(raw)
        return read_answer(sock)


@pytest.mark.slow
def test_no_link_token_reaches_a_log(env, tmp_path):
    token = link_token()
    web, port = start_web({**env, "LINK_SECRETS": SECRET, "AUTO_MIGRATE": "1"}, tmp_path, "web")
    head = f"POST /u/{token} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    try:
        too_large = exchange(port, f"{head}Content-Length: {MAX_BODY + 1}\r\n\r\n".encode())
        too_slow = left_waiting(port, f"{head}Content-Length: 10\r\n\r\nabc".encode())
        page = requests.get(f"http://127.0.0.1:{port}/u/{token}?from=mail", timeout=10)
        forged = requests.post(f"http://127.0.0.1:{port}/u/{token}x", timeout=10, data={"a": "b"})
        log = tmp_path / "web.log"
        assert wait_for(lambda: log.read_text().count("/u/***") >= 6, 10), log.read_text()
    finally:
        web.terminate()
        web.wait(30)
    assert [too_large[0], page.status_code, forged.status_code] == [413, 200, 400]
    assert too_slow.startswith(b"HTTP/1.1 408 ")
    text = log.read_text()
    assert token[:12] not in text and token.rsplit(".", 1)[1][:12] not in text
    assert "request refused route=/u/*** http=413" in text and "request refused route=/u/*** http=408" in text
