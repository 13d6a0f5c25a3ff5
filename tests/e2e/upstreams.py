"""Local upstreams that misbehave at the socket level, which the vendor fakes (well-behaved HTTP servers)
cannot: a vendor that trickles its answer, one that is down, and a Redis that accepts and never answers."""

import http.client
import select
import socket
import socketserver
import threading
from urllib.parse import urlsplit

TRICKLE_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n"
                b"Connection: close\r\n\r\n")
DOWN = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: 41\r\n"
        b"Connection: close\r\n\r\n<html><body>503 Service Unavailable</body>")
TRICKLE_EVERY = 2.0  # seconds between two bytes of the trickled answer


def read_request(sock):
    """(request line + headers, body) of one HTTP/1.1 request with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


class Listener(socketserver.ThreadingTCPServer):
    request_queue_size = 256  # a vendor's listen queue: socketserver's 5 drops SYNs under a burst
    daemon_threads = True


class FlakyVendor:
    """A vendor endpoint in front of a fake: `mode` is healthy (the request goes on to the fake and its answer
    comes back), trickle (headers promising 400 bytes, then one byte every 2 s until the client hangs up) or
    down (503). Counts what it saw in each mode and how many trickled connections the client cut."""

    def __init__(self, fake_base):
        self.target = urlsplit(fake_base)
        self.mode = "healthy"
        self.seen = {"healthy": 0, "trickle": 0, "down": 0}
        self.cut = 0
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        vendor = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                vendor.serve(self.request)

        self.server = Listener(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self, mode="healthy"):
        with self.lock:
            self.mode, self.cut = mode, 0
            self.seen = dict.fromkeys(self.seen, 0)

    def serve(self, sock):
        head, body = read_request(sock)
        if head is None:
            return
        with self.lock:
            mode = self.mode
            self.seen[mode] += 1
        if mode == "down":
            sock.sendall(DOWN)
        elif mode == "trickle":
            self.trickle(sock)
        else:
            sock.sendall(self.forward(head, body))

    def trickle(self, sock):
        """Headers, then a byte every TRICKLE_EVERY seconds; returns when the client closed the connection."""
        try:
            sock.sendall(TRICKLE_HEAD)
            for _ in range(400):
                readable, _, _ = select.select([sock], [], [], TRICKLE_EVERY)
                if (readable and not sock.recv(1)) or self.stopping.is_set():
                    break
                sock.sendall(b" ")
        except OSError:
            pass  # reset by the client: it hung up
        with self.lock:
            self.cut += 0 if self.stopping.is_set() else 1

    def forward(self, head, body):
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=30)
        try:
            conn.request(method, path, body, {"Content-Type": headers.get("Content-Type", "")})
            answer = conn.getresponse()
            payload = answer.read()
        finally:
            conn.close()
        return (f"HTTP/1.1 {answer.status} {answer.reason}\r\nContent-Type: {answer.getheader('Content-Type')}"
                f"\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode("latin-1") + payload

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


class SilentServer:
    """A TCP server that accepts connections and never answers (a hung Redis); closes them when stopped."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.accepted = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.listener.getsockname()[1]

    @property
    def uri(self):
        """As RATE_LIMIT_STORAGE_URI would name it."""
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def stop(self):
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        self.thread.join(5)
        for conn in self.accepted:
            conn.close()


def closed_port():
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
