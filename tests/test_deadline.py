"""One overall deadline per upstream call, in every serving mode: an upstream that sends its headers and
then trickles its body one byte at a time is cut at UPSTREAM_TIMEOUT, the webhook is answered, and the
upstream sees its connection closed. Through real gunicorn (gevent: gevent.Timeout) and through the Flask
test client (threads: the reaper)."""

import select
import socket
import threading

import pytest
import requests

from tests.conftest import TOKEN
from tests.helpers import post
from tests.test_serving import start_web

UPSTREAM_TIMEOUT = 2
MARGIN = 3  # seconds past UPSTREAM_TIMEOUT the answer may take (one loaded CI core): never minutes


class TricklingUpstream:
    """Answers `Content-Length: 400` headers, then one byte every `every` seconds; `closed` is set when the
    caller hangs up (the only way the answer ends: 400 bytes would take minutes)."""

    def __init__(self, every=0.5):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.every, self.closed, self.asked = every, threading.Event(), threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/{{login}}/api/"

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            self.asked.set()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n")
            self._trickle(conn)

    def _trickle(self, conn):
        for _ in range(400):
            readable, _, _ = select.select([conn], [], [], self.every)  # the pace: a byte per `every` s
            try:
                if readable and conn.recv(1) == b"":
                    break  # the caller closed its end
                conn.sendall(b" ")
            except OSError:
                break
        self.closed.set()

    def close(self):
        self.sock.close()


@pytest.fixture
def upstream():
    server = TricklingUpstream()
    yield server
    server.close()


def assert_cut(answer, upstream):
    """202 queued (the vendor did not answer in time; the worker retries), and the upstream saw it end."""
    assert answer.status_code == 202
    [result] = (answer.json() if callable(answer.json) else answer.json)["results"]
    assert result["status"] == "queued" and f"within {UPSTREAM_TIMEOUT} s" in result["message"]
    assert upstream.asked.is_set() and upstream.closed.wait(MARGIN)  # the upstream sees the call end


@pytest.mark.slow
def test_a_lone_webhook_through_gunicorn_is_cut_at_the_deadline(env, tmp_path, upstream):
    web, port = start_web({**env, "JUSTCLICK_API_URL": upstream.url, "AUTO_MIGRATE": "1",
                           "UPSTREAM_TIMEOUT": str(UPSTREAM_TIMEOUT)}, tmp_path, "web")
    try:
        answer = requests.post(f"http://127.0.0.1:{port}/hooks/justclick", json={"email": "lone@example.com"},
                               headers={"Authorization": f"Bearer {TOKEN}"},
                               timeout=UPSTREAM_TIMEOUT + MARGIN)
    finally:
        web.terminate()
        web.wait(30)
    assert_cut(answer, upstream)


def test_a_webhook_without_gevent_is_cut_at_the_deadline(make_app, upstream):
    app = make_app(JUSTCLICK_API_URL=upstream.url, UPSTREAM_TIMEOUT=str(UPSTREAM_TIMEOUT))
    answered = []
    thread = threading.Thread(target=lambda: answered.append(
        post(app.test_client(), {"email": "t@example.com"}, route="justclick")), daemon=True)
    thread.start()
    thread.join(UPSTREAM_TIMEOUT + MARGIN)
    assert answered, "no answer past the deadline"
    assert_cut(answered[0], upstream)
