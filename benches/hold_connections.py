#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one request on each, reads its
answer, and holds them all open until stdin closes (or HOLD seconds pass). With --in-flight it
sends the request and does not wait for the answer (a slow upstream keeps it in flight).
Prints "ready N" once every connection is in the state asked for.

    hold_connections.py PORT N [--in-flight] [--header 'Name: value'] [--hold SECONDS]
"""
import argparse
import asyncio
import sys


async def one(port, request, in_flight, opened):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    if not in_flight:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
    opened.append(writer)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("count", type=int)
    p.add_argument("--in-flight", action="store_true")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--hold", type=float, default=120.0)
    a = p.parse_args()
    headers = "".join(h + "\r\n" for h in a.header)
    request = f"GET / HTTP/1.1\r\nHost: bench\r\n{headers}\r\n".encode()
    opened = []
    sem = asyncio.Semaphore(500)  # connect in batches: the listen backlog is finite

    async def bounded():
        async with sem:
            await one(a.port, request, a.in_flight, opened)

    await asyncio.wait_for(asyncio.gather(*(bounded() for _ in range(a.count))), 120)
    print(f"ready {len(opened)}", flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait([stdin_closed], timeout=a.hold)
    for w in opened:
        w.close()


asyncio.run(main())
