#!/usr/bin/env python3
"""An HTTP/1.1 upstream on 127.0.0.1:PORT that answers every request "hello" after DELAY
seconds (keep-alive): it holds requests in flight for benches/memory.sh.

    slow_upstream.py PORT DELAY
"""
import asyncio
import sys

PORT, DELAY = int(sys.argv[1]), float(sys.argv[2])


async def serve(reader, writer):
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(DELAY)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", PORT, backlog=4096)
    async with server:
        await server.serve_forever()


asyncio.run(main())
