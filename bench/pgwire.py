"""A wire tap between the service and PostgreSQL: what the driver sends, message by message.

A TCP proxy that forwards every byte unchanged and reads the frontend protocol going by (PostgreSQL's
protocol, chapter "Message Formats"): each simple Query ('Q') and each Sync ('S') waits for the server's
ReadyForQuery, so together they are the round trips; each Execute ('E') runs one statement, named by the
Parse ('P') and Bind ('B') before it (psycopg prepares a statement it has run five times: later runs
send only Bind and Execute, so the text is remembered per connection). Nothing of the service is
touched: it is pointed at the tap's port. The tap answers SSL and GSS encryption requests 'N' itself, so
the stream stays readable (the bench's database URL also says sslmode=disable).
"""

import asyncio
import collections
import re
import socket
import struct
import threading
import time

ENCRYPTION_REQUESTS = (80877103, 80877104)  # SSLRequest, GSSENCRequest
CANCEL_REQUEST = 80877102


def _cstrings(body, count):
    """The first `count` NUL-terminated strings of a message body."""
    return [part.decode("utf-8", "replace") for part in body.split(b"\0", count)[:count]]


class Connection:
    """What one client connection sent: its prepared statements by name, the statement bound last."""

    def __init__(self, number):
        self.number, self.prepared, self.bound = number, {}, ""

    def read(self, kind, body):
        """(event kind, text) for a message that matters, else None."""
        if kind == b"P":
            name, query = _cstrings(body, 2)
            self.prepared[name] = query
        elif kind == b"B":
            _portal, name = _cstrings(body, 2)
            self.bound = self.prepared.get(name, f"<statement {name}>")
        elif kind == b"E":
            return "execute", self.bound
        elif kind == b"Q":
            return "query", _cstrings(body, 1)[0]
        elif kind == b"S":
            return "sync", ""
        return None


class WireTap:
    """Listens on a free port of 127.0.0.1 and forwards to (host, port); `events` holds
    (monotonic time, connection number, kind, text), kind one of execute, query, sync, connect."""

    def __init__(self, host, port):
        self.target, self.events, self.connections = (host, port), [], 0
        self._writers, self._tasks, self._server = set(), set(), None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]

    def __enter__(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the wire tap did not start")
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._thread.join(10)

    def mark(self):
        """An index into `events`: what happens after it is what a later slice shows."""
        return len(self.events)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        listening = asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self._server = self._loop.run_until_complete(listening)
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self):
        """Stop listening, end the connections still open, then the loop."""
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._loop.call_soon(self._loop.stop)

    def _note(self, number, kind, text=""):
        self.events.append((time.monotonic(), number, kind, text))

    async def _serve(self, client_reader, client_writer):
        self.connections += 1
        conn = Connection(self.connections)
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(client_writer)
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.add(server_writer)
        back = asyncio.ensure_future(_pipe(server_reader, client_writer))
        try:
            if await self._startup(client_reader, client_writer, server_writer):
                self._note(conn.number, "connect")
                await self._messages(conn, client_reader, server_writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            server_writer.close()
            await back
            self._writers -= {client_writer, server_writer}
            self._tasks.discard(task)

    @staticmethod
    async def _startup(reader, writer, server_writer):
        """Forward the startup packet (no type byte); True for a session, False for a cancel request."""
        while True:
            head = await reader.readexactly(8)
            length, code = struct.unpack("!ii", head)
            rest = await reader.readexactly(length - 8)
            if code not in ENCRYPTION_REQUESTS:
                server_writer.write(head + rest)
                await server_writer.drain()
                return code != CANCEL_REQUEST
            writer.write(b"N")  # no encryption: the client goes on in the clear
            await writer.drain()

    async def _messages(self, conn, reader, server_writer):
        while True:
            head = await reader.readexactly(5)
            body = await reader.readexactly(struct.unpack("!i", head[1:])[0] - 4)
            server_writer.write(head + body)
            await server_writer.drain()
            event = conn.read(head[:1], body)
            if event:
                self._note(conn.number, *event)


async def _pipe(reader, writer):
    """Server to client, unread."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def summary(events, webhooks):
    """Per webhook: round trips, statements executed, commits, connections opened (a dict of floats)."""
    kinds = [(kind, text.strip().upper()) for _, _, kind, text in events]
    counts = {"round trips": sum(kind in ("sync", "query") for kind, _ in kinds),
              "statements": sum(kind in ("execute", "query") for kind, _ in kinds),
              "commits": sum(kind in ("execute", "query") and text.startswith("COMMIT")
                             for kind, text in kinds),
              "connections opened": sum(kind == "connect" for kind, _ in kinds)}
    return {name: count / webhooks for name, count in counts.items()}


_VERB = re.compile(r"^(SELECT|INSERT INTO|UPDATE|DELETE FROM)\b", re.I)
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", re.I)
_FUNCTION = re.compile(r"^SELECT\s+(pg_\w+)", re.I)


def label(text):
    """A statement's short name: its verb and table (`SELECT destination_gates FOR UPDATE`), the function a
    bare SELECT calls (`SELECT pg_advisory_xact_lock`), its first word (BEGIN, COMMIT, SAVEPOINT), or a
    table-less statement's own text (`SELECT 1`)."""
    text = " ".join(text.split())
    verb, function = _VERB.match(text), _FUNCTION.match(text)
    if function:
        return f"SELECT {function.group(1)}"
    if not verb:
        return text.split(" ", 1)[0].upper() if text else "(empty)"
    table = _TABLE.search(text)
    if not table:  # SELECT 1 and the like: the statement is its own name
        return text[:40]
    name = f"{verb.group(1).upper()} {table.group(1)}"
    for clause in ("FOR UPDATE", "SKIP LOCKED", "RETURNING"):
        name += f" {clause}" if clause in text.upper() else ""
    return name


def by_statement(events, webhooks):
    """{statement label: executions per webhook}, most frequent first."""
    counted = collections.Counter(label(text) for _, _, kind, text in events if kind in ("execute", "query"))
    return {name: count / webhooks for name, count in counted.most_common()}
