"""A fast fake JustClick upstream on asyncio: signed answers, optional fixed latency, keep-alive.

    python bench/upstream.py PORT LATENCY SECRET [count] [--tls CERT KEY]

With `count`, it tallies the addresses (lead_email) it is sent, and `GET /stats` answers
{"received", "distinct", "twice"}: what the scale-out run checks nothing was sent twice.
With `--tls`, it serves HTTPS with that certificate and key (bench/tls.py makes a throwaway pair).
"""

import argparse
import asyncio
import collections
import hashlib
import json
import ssl
from urllib.parse import parse_qs


def answer(secret):
    text = "OK"
    body = json.dumps({"error_code": 0, "error_text": text,
                       "hash": hashlib.md5(f"0::{text}::{secret}".encode()).hexdigest()}).encode()
    return http_answer(body)


def http_answer(body):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def stats(tally):
    """The tally's summary: requests received, distinct addresses, addresses received more than once."""
    return {"received": sum(tally.values()), "distinct": len(tally),
            "twice": sum(1 for seen in tally.values() if seen > 1)}


def lead_email(body):
    return parse_qs(body.decode("ascii", "replace")).get("lead_email", [""])[0]


async def handle(reader, writer, reply, latency, tally):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length) if length else b""
            if tally is not None and head.startswith(b"GET /stats"):
                writer.write(http_answer(json.dumps(stats(tally)).encode()))
                await writer.drain()
                continue
            if tally is not None and head.startswith(b"POST"):  # GETs are the harness asking if it is up
                tally[lead_email(body)] += 1
            if latency:
                await asyncio.sleep(latency)
            writer.write(reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main(port, latency, secret, counting, tls=None):
    reply = answer(secret)
    tally = collections.Counter() if counting else None
    context = None
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
    server = await asyncio.start_server(lambda r, w: handle(r, w, reply, latency, tally), "127.0.0.1", port,
                                        backlog=1024, ssl=context)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="A fast fake JustClick upstream.")
    parser.add_argument("port", type=int)
    parser.add_argument("latency", type=float)
    parser.add_argument("secret")
    parser.add_argument("count", nargs="?", choices=["count"], help="tally the addresses sent")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve HTTPS")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    asyncio.run(main(args.port, args.latency, args.secret, args.count == "count", args.tls))
