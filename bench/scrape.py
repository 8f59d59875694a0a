#!/usr/bin/env python3
"""Scrapes PATH on a ringkv COUNT times over one keep-alive connection,
PAUSE_MS apart, and prints the client-side time of each scrape as
"p50 p99 max" in milliseconds, and the size of the last body in bytes.

Usage: bench/scrape.py PORT PATH COUNT [PAUSE_MS]
"""
import socket
import sys
import time

from http_response import read_response


def read_ok(sock, buffer):
    """Reads one response, which must be a 200; returns (body, leftover)."""
    status, body, buffer = read_response(sock, buffer)
    if status != 200:
        raise SystemExit(f"HTTP {status}: {body[:200]!r}")
    return body, buffer


def main():
    port, path, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    pause = float(sys.argv[4]) / 1000 if len(sys.argv) > 4 else 0
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request = f"GET {path} HTTP/1.1\r\nHost: b\r\n\r\n".encode()
    times, leftover, body = [], b"", b""
    for _ in range(count):
        start = time.perf_counter()
        sock.sendall(request)
        body, leftover = read_ok(sock, leftover)
        times.append((time.perf_counter() - start) * 1000)
        if pause:
            time.sleep(pause)
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(f"{pick(0.5):.3f} {pick(0.99):.3f} {times[-1]:.3f} {len(body)}")


if __name__ == "__main__":
    main()
