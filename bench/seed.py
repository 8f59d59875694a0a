#!/usr/bin/env python3
"""Creates a namespace on a ringkv (or any server of the API) and fills it
with COUNT keys named PREFIX0..PREFIX{COUNT-1}, VALUE_BYTES each, over one
pipelined connection. Prints the namespace id.

Usage: bench/seed.py PORT COUNT VALUE_BYTES [PREFIX] [TOKEN] [EXPIRE_AT]
EXPIRE_AT (Unix seconds): every key gets the ttl_secs that makes it expire
then, so a slow fill still has all its keys expire in the same second.
"""
import json
import socket
import sys
import time

from http_response import read_response


def read_responses(sock, count, buffer=b""):
    """Reads `count` responses; returns (last body, leftover). Fails on a non-2xx."""
    body = b""
    for _ in range(count):
        status, body, buffer = read_response(sock, buffer)
        if status >= 300:
            raise SystemExit(f"HTTP {status}: {body[:200]!r}")
    return body, buffer


def main():
    port, count, value_bytes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    prefix = sys.argv[4] if len(sys.argv) > 4 else "k"
    token = sys.argv[5] if len(sys.argv) > 5 else "bench"
    expire_at = float(sys.argv[6]) if len(sys.argv) > 6 else None
    sock = socket.create_connection(("127.0.0.1", port))
    auth = f"Authorization: Bearer {token}\r\n"
    name = f"bench-{prefix}-{count}".lower().replace("_", "-").replace("/", "-")
    payload = json.dumps({"name": name}).encode()
    sock.sendall(f"POST /v2/storage/kvs HTTP/1.1\r\nHost: b\r\n{auth}Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    body, leftover = read_responses(sock, 1)
    namespace = json.loads(body)["data"]["id"]
    value = (b"v" * value_bytes)
    batch = 2000
    for start in range(0, count, batch):
        end = min(count, start + batch)
        query = ""
        if expire_at is not None:
            query = f"?ttl_secs={max(1, round(expire_at - time.time()))}"
        requests = b"".join(
            f"PUT /v2/storage/kvs/{namespace}/keys/{prefix}{i}{query} HTTP/1.1\r\nHost: b\r\n{auth}Content-Length: {value_bytes}\r\n\r\n".encode() + value
            for i in range(start, end))
        sock.sendall(requests)
        _, leftover = read_responses(sock, end - start, leftover)
    print(namespace)


if __name__ == "__main__":
    main()
