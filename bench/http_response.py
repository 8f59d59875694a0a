"""Reads HTTP/1.1 responses off a socket for the bench scripts (seed.py,
scrape.py): just what ringkv answers with, a head and a Content-Length body
(no chunked encoding)."""


def read_response(sock, buffer=b""):
    """Reads one response; `buffer` holds bytes already read past the last
    one. Returns (status, body, leftover). Exits when the peer closes."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise SystemExit("connection closed")
        buffer += chunk
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buffer) < length:
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise SystemExit("connection closed")
        buffer += chunk
    return status, buffer[:length], buffer[length:]
