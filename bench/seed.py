#!/usr/bin/env python3
"""Creates a namespace on a ringkv (or any server of the API) and fills it
with COUNT keys named PREFIX0..PREFIX{COUNT-1}, VALUE_BYTES each, over one
pipelined connection. Prints the namespace id.

Usage: bench/seed.py [--name NAME] PORT COUNT VALUE_BYTES [PREFIX] [TOKEN] [EXPIRE_AT]
NAME: the namespace's name (default bench-PREFIX-COUNT), for a second
namespace with the same keys.
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
    args = sys.argv[1:]
    name = None
    if args[:1] == ["--name"]:
        name, args = args[1], args[2:]
    port, count, value_bytes = int(args[0]), int(args[1]), int(args[2])
    prefix = args[3] if len(args) > 3 else "k"
    token = args[4] if len(args) > 4 else "bench"
    expire_at = float(args[5]) if len(args) > 5 else None
    sock = socket.create_connection(("127.0.0.1", port))
    auth = f"Authorization: Bearer {token}\r\n"
    if name is None:
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
