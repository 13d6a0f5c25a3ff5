"""A fast fake JustClick upstream on asyncio: signed answers, optional fixed latency, keep-alive."""

import asyncio
import hashlib
import json
import sys


def answer(secret):
    text = "OK"
    body = json.dumps({"error_code": 0, "error_text": text,
                       "hash": hashlib.md5(f"0::{text}::{secret}".encode()).hexdigest()}).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


async def handle(reader, writer, reply, latency):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            if latency:
                await asyncio.sleep(latency)
            writer.write(reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port, latency, secret):
    reply = answer(secret)
    server = await asyncio.start_server(lambda r, w: handle(r, w, reply, latency), "127.0.0.1", port,
                                        backlog=1024)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]))
