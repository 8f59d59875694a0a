#!/usr/bin/env python3
"""Checks that a proxy in front of several ringkv nodes keeps each
organization (bearer token) on one node. bench/scale-out.sh runs it.

Usage: scale-out-check.py sticky PROXY_PORT NAME=PORT [NAME=PORT ...]
         Tokens stick-0 .. stick-59: each creates a namespace through the
         proxy, then uses every kind of route, on fresh connections and on
         one shared keep-alive connection whose requests alternate between
         tokens; every answer must come from the same node (X-Ringkv-Node),
         that node alone must hold the namespace (asked directly), and every
         node must hold some organization. Leaves the namespaces in place
         and prints "TOKEN NODE" lines for the next step.
       scale-out-check.py down PROXY_PORT DEAD_NODE STATUS < "TOKEN NODE" lines
         After DEAD_NODE was stopped: its organizations get STATUS through
         the proxy (fail loud) with a JSON error body (code 10007), the
         others are served as before by their own node, namespaces intact.
Exit status 0 when every check holds, 1 with the first failure.
"""

import http.client
import json
import sys

TOKENS = [f"stick-{n}" for n in range(60)]


def fail(text):
    print(f"scale-out check FAILED: {text}", file=sys.stderr)
    sys.exit(1)


def request(connection, method, path, token, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "text/plain"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    return response.status, response.getheader("X-Ringkv-Node"), data


def fresh(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def sticky(proxy_port, nodes):
    home = {}  # token -> node that answered its create
    namespace = {}
    for token in TOKENS:
        status, node, body = request(fresh(proxy_port), "POST", "/v2/storage/kvs", token,
                                     json.dumps({"name": "sticky"}))
        if status != 201 or node not in nodes:
            fail(f"{token}: create answered {status} from node {node!r}: {body[:200]!r}")
        home[token] = node
        namespace[token] = json.loads(body)["data"]["id"]

    # Every route, each token on a fresh connection of its own.
    for token in TOKENS:
        keys = f"/v2/storage/kvs/{namespace[token]}/keys"
        steps = [("PUT", f"{keys}/k1?ttl_secs=600", "v1", 201), ("GET", f"{keys}/k1", None, 200),
                 ("PUT", f"{keys}/k2", "v2", 201), ("GET", f"/v2/storage/kvs/{namespace[token]}", None, 200),
                 ("GET", "/v2/storage/kvs", None, 200)]
        connection = fresh(proxy_port)
        for method, path, body, expected in steps:
            status, node, data = request(connection, method, path, token, body)
            if status != expected or node != home[token]:
                fail(f"{token}: {method} {path} answered {status} from {node}, expected {expected} from "
                     f"{home[token]}: {data[:200]!r}")
        # A listing's cursor is honoured on the next page: the same node
        # issued it (another node's secret would refuse it with 400).
        status, node, data = request(connection, "GET", f"{keys}?limit=1", token)
        cursor = json.loads(data)["meta"].get("cursor")
        if status != 200 or node != home[token] or cursor is None:
            fail(f"{token}: the first page answered {status} from {node}: {data[:200]!r}")
        status, node, data = request(connection, "GET", f"{keys}?limit=1&cursor={cursor}", token)
        if status != 200 or node != home[token] or json.loads(data)["data"][0]["key"] != "k2":
            fail(f"{token}: the second page answered {status} from {node}: {data[:200]!r}")
        status, node, data = request(connection, "DELETE", f"{keys}/k2", token)
        if status != 204 or node != home[token]:
            fail(f"{token}: DELETE answered {status} from {node}")

    # One keep-alive connection, requests alternating between organizations:
    # the proxy balances each request, not the connection.
    shared = fresh(proxy_port)
    for round_number in range(3):
        for token in TOKENS:
            status, node, data = request(shared, "GET", f"/v2/storage/kvs/{namespace[token]}/keys/k1", token)
            if status != 200 or node != home[token] or data != b"v1":
                fail(f"{token}: on a shared connection, round {round_number}: {status} from {node}, {data[:100]!r}")

    # Asked directly, only the home node knows the organization.
    for token in TOKENS:
        for name, port in nodes.items():
            status, node, data = request(fresh(port), "GET", "/v2/storage/kvs", token)
            total = json.loads(data)["meta"]["total_results"]
            if status != 200 or node != name or total != (1 if name == home[token] else 0):
                fail(f"{token}: node {name} (port {port}) lists {total} namespace(s); its home is {home[token]}")

    counts = {name: sum(1 for token in TOKENS if home[token] == name) for name in nodes}
    if min(counts.values()) == 0:
        fail(f"a node holds no organization: {counts}")
    print("organizations per node: " + ", ".join(f"{name} {count}" for name, count in sorted(counts.items())),
          file=sys.stderr)
    for token in TOKENS:
        print(f"{token} {home[token]}")


def down(proxy_port, dead, expected_status):
    lines = [line.split() for line in sys.stdin if line.strip()]
    lost = kept = 0
    for token, node in lines:
        status, answered_by, data = request(fresh(proxy_port), "GET", "/v2/storage/kvs", token)
        if node == dead:
            lost += 1
            if status != expected_status:
                fail(f"{token} lived on {dead}, which is down: answered {status} by {answered_by}, "
                     f"expected {expected_status}")
            try:  # the proxy's own answer, in ringkv's error shape
                code = json.loads(data)["errors"][0]["code"]
            except (ValueError, KeyError, IndexError, TypeError):
                code = None
            if code != "10007":
                fail(f"{token}: the proxy's {status} is not a JSON error with code 10007: {data[:200]!r}")
        else:
            kept += 1
            total = json.loads(data)["meta"]["total_results"] if status == 200 else None
            if status != 200 or answered_by != node or total != 1:
                fail(f"{token} lives on {node}, which is up: answered {status} by {answered_by}, {total} namespace(s)")
    if lost == 0 or kept == 0:
        fail(f"nothing to compare: {lost} organization(s) on {dead}, {kept} elsewhere")
    print(f"{dead} down: its {lost} organizations answered {expected_status}, the other {kept} served as before",
          file=sys.stderr)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "sticky":
        nodes = dict(argument.split("=") for argument in sys.argv[3:])
        sticky(int(sys.argv[2]), {name: int(port) for name, port in nodes.items()})
    elif len(sys.argv) == 5 and sys.argv[1] == "down":
        down(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
