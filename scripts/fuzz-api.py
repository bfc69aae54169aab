#!/usr/bin/env python3
"""Random bad input against every route of a live `acgs serve`, looking for what the router tests
did not think of: any 5xx, an error without a JSON body, a hung request, or a server that dies.

    ACGS_ADMIN_PASSWORD=... ACGS_WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true \
        acgs serve --data-dir DIR &                              # a throwaway data directory; webhooks
                                                                 # to 127.0.0.1 allowed, so their routes are reached
    acgs agent create fuzz-bot --data-dir DIR                  # prints the agent's key
    scripts/fuzz-api.py --admin-password ... --agent-key acgs_... --seconds 120 [--seed N]

The same seed sends the same requests (the server's answers may still differ: ids, time). The
end-to-end tests run it for a few seconds with a fixed seed. Traffic goes to 127.0.0.1 only. Exit status 0 when nothing was found, 1 otherwise; each finding is
printed with the request that caused it (method, path, headers' names, the first bytes of the body).
"""
import argparse
import http.client
import json
import random
import sys
import time

HASH = "cdd01ef066bc6cf2"
PORTS = {"constitutional": 32768, "auth": 8016, "integrity": 8002, "hitl": 8008}

# (service, method, path, a valid-looking body or None). `{id}` is replaced by a random identifier.
ROUTES = [
    ("constitutional", "POST", "/api/v1/constitutional/validate",
     {"action": {"type": "shell", "tool": "bash", "arguments": {"command": "ls"}}, "content": "list", "context": {}}),
    ("constitutional", "POST", "/api/v1/constitutional/validate/batch",
     {"inputs": [{"content": "hello"}, {"action": {"type": "shell"}}]}),
    ("constitutional", "GET", "/api/v1/constitutional/principles", None),
    ("constitutional", "GET", "/api/v1/constitution", None),
    ("auth", "POST", "/api/v1/auth/token", {"grant_type": "password", "username": "fuzz-nobody", "password": "x" * 12}),
    ("auth", "POST", "/api/v1/auth/validate", {"token": "abc"}),
    ("auth", "POST", "/api/v1/auth/revoke", {"token": "abc"}),
    ("auth", "POST", "/api/v1/auth/introspect", {"token": "abc"}),
    ("auth", "GET", "/api/v1/auth/me", None),
    ("auth", "POST", "/api/v1/auth/mfa/enroll", {}),
    ("auth", "POST", "/api/v1/auth/mfa/confirm", {"code": "123456"}),
    ("auth", "POST", "/api/v1/auth/users/{id}/password", {"current_password": "a" * 12, "new_password": "b" * 12}),
    ("auth", "POST", "/api/v1/auth/agents", {"name": "fuzz", "owner": "team"}),
    ("auth", "GET", "/api/v1/auth/agents", None),
    ("auth", "GET", "/api/v1/auth/agents/{id}", None),
    ("auth", "PATCH", "/api/v1/auth/agents/{id}", {"status": "suspended"}),
    ("auth", "DELETE", "/api/v1/auth/agents/{id}", None),
    ("auth", "POST", "/api/v1/auth/agents/{id}/keys", {}),
    ("auth", "GET", "/api/v1/auth/agents/{id}/keys", None),
    ("auth", "DELETE", "/api/v1/auth/keys/{id}", None),
    ("auth", "POST", "/api/v1/auth/users", {"username": "fuzz", "password": "p" * 14, "roles": ["auditor"]}),
    ("auth", "GET", "/api/v1/auth/users", None),
    ("auth", "GET", "/api/v1/auth/users/{id}", None),
    ("auth", "PATCH", "/api/v1/auth/users/{id}", {"roles": ["reviewer"]}),
    ("auth", "DELETE", "/api/v1/auth/users/{id}", None),
    ("integrity", "GET", "/api/v1/integrity/entries", None),
    ("integrity", "GET", "/api/v1/integrity/entries/{id}", None),
    ("integrity", "GET", "/api/v1/integrity/tree-head", None),
    ("integrity", "POST", "/api/v1/integrity/tree-head", {}),
    ("integrity", "GET", "/api/v1/integrity/proof/inclusion", None),
    ("integrity", "GET", "/api/v1/integrity/proof/consistency", None),
    ("integrity", "GET", "/api/v1/integrity/keys", None),
    ("integrity", "POST", "/api/v1/integrity/verify", {}),
    ("hitl", "POST", "/api/v1/reviews",
     {"action": {"type": "payment", "tool": "stripe", "arguments": {"amount": 50000}}, "reason": "pay", "urgency": "high"}),
    ("hitl", "POST", "/api/v1/oversight/request", {"action": {"type": "deploy"}, "reason": "ship"}),
    ("hitl", "GET", "/api/v1/reviews", None),
    ("hitl", "GET", "/api/v1/reviews/{id}", None),
    ("hitl", "POST", "/api/v1/reviews/{id}/claim", {}),
    ("hitl", "POST", "/api/v1/reviews/{id}/release", {}),
    ("hitl", "POST", "/api/v1/reviews/{id}/decision", {"decision": "approve", "reason": "ok"}),
    ("hitl", "POST", "/api/v1/reviews/{id}/cancel", {}),
    ("hitl", "POST", "/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}),
    ("hitl", "GET", "/api/v1/webhooks", None),
    ("hitl", "DELETE", "/api/v1/webhooks/{id}", None),
    ("hitl", "GET", "/api/v1/webhooks/{id}/deliveries", None),
    ("hitl", "POST", "/console/login", None),
    ("hitl", "GET", "/console/reviews/{id}", None),
    ("hitl", "POST", "/console/reviews/{id}/decision", None),
]

STRINGS = ["", " ", "\u0000", "é", "\U0001F600", "\u2028", "a" * 5000, "../../etc/passwd",
           "%00", "'; DROP TABLE x; --", "<script>", "${jndi:x}", "-1", "1e400", "NaN", "true", "null", "[]", "{}",
           "rev_" + "0" * 40, "usr_1", "agt_1", "12345678901234567890", "\\", "\"", "\n\r", "admin"]


def random_scalar(rng):
    return rng.choice([
        None, True, False, 0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30, 1.5, -0.0, 1e308,
        rng.choice(STRINGS), "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 20))),
    ])


def random_value(rng, depth=0):
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return random_scalar(rng)
    if roll < 0.75:
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(STRINGS + ["action", "content", "context", "type", "tool", "arguments", "principles", "reason"]):
            random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def mutate(rng, value, depth=0):
    """The template with one part changed: a field's type, a field removed or added, deeper nesting."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        value = dict(value)
        key = rng.choice(list(value))
        action = rng.random()
        if action < 0.4:
            value[key] = mutate(rng, value[key], depth + 1)
        elif action < 0.6:
            del value[key]
        elif action < 0.8:
            value[rng.choice(STRINGS)] = random_value(rng)
        else:
            value[key] = random_value(rng)
        return value
    if isinstance(value, list) and value and rng.random() < 0.5:
        value = list(value)
        value[rng.randrange(len(value))] = mutate(rng, value[0], depth + 1)
        return value
    return random_value(rng)


def body_bytes(rng, template):
    roll = rng.random()
    if template is not None and roll < 0.55:
        return json.dumps(mutate(rng, template)).encode()
    if roll < 0.65:
        return json.dumps(random_value(rng)).encode()
    if roll < 0.72 and template is not None:
        text = json.dumps(template)
        return text[: rng.randrange(len(text))].encode()  # truncated
    if roll < 0.78:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))  # not UTF-8, not JSON
    if roll < 0.84:
        return b"[" * 5000 + b"]" * 5000  # deep nesting
    if roll < 0.88:
        return b'{"a": 1, "a": 2}'
    if roll < 0.92:
        return b"{" + b'"k": "' + b"x" * (2 * 1024 * 1024) + b'"}'  # oversized
    if roll < 0.96:
        return b""
    return json.dumps(template).encode() if template is not None else b"{}"


def random_id(rng):
    return rng.choice(["1", "0", "-1", "99999999999999999999", "rev_1", "usr_x", "agt_x", "whk_1", "key_1",
                       "%2e%2e", "a" * 300, "%00", "%ff", "%E2%82%AC", "0x10", "1.5", "null"])


def random_query(rng):
    if rng.random() < 0.5:
        return ""
    keys = ["limit", "offset", "type", "index", "first", "second", "size", "wait", "state", "level", "after", "x"]
    values = ["1", "0", "-1", "abc", "99999999999999999999", "", "1.5", "%00", "true", "a" * 1000]
    return "?" + "&".join(f"{rng.choice(keys)}={rng.choice(values)}" for _ in range(rng.randint(1, 3)))


class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.connections = {}
        self.findings = []
        self.counts = {}
        self.admin_token = self.sign_in()

    def connection(self, port):
        if port not in self.connections:
            self.connections[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=self.args.timeout)
        return self.connections[port]

    def send(self, port, method, path, body, headers):
        for attempt in (1, 2):
            conn = self.connection(port)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            except (http.client.HTTPException, ConnectionError, OSError) as error:
                conn.close()
                del self.connections[port]
                if attempt == 2:
                    raise error
        raise AssertionError("unreachable")

    def sign_in(self):
        body = json.dumps({"grant_type": "password", "username": self.args.admin_user, "password": self.args.admin_password})
        status, _, data = self.send(PORTS["auth"], "POST", "/api/v1/auth/token", body.encode(),
                                    {"Content-Type": "application/json", "X-Constitutional-Hash": HASH})
        if status != 200:
            sys.exit(f"admin sign-in failed: {status} {data[:200]!r}")
        return json.loads(data)["access_token"]

    def one(self):
        rng = self.rng
        service, method, path, template = rng.choice(ROUTES)
        path = path.replace("{id}", random_id(rng)) + random_query(rng)
        body = body_bytes(rng, template) if method in ("POST", "PATCH") or rng.random() < 0.1 else None
        headers = {}
        roll = rng.random()
        if roll < 0.8:
            headers["X-Constitutional-Hash"] = HASH
        elif roll < 0.9:
            headers["X-Constitutional-Hash"] = rng.choice(["", "0" * 16, "x", HASH.upper(), HASH + " ", "a" * 500])
        roll = rng.random()
        if roll < 0.45:
            headers["Authorization"] = "Bearer " + self.admin_token
        elif roll < 0.8:
            headers["Authorization"] = "Bearer " + self.args.agent_key
        elif roll < 0.9:
            headers["Authorization"] = rng.choice(["Bearer", "Bearer ", "Basic YTpi", "Bearer " + "x" * 5000,
                                                   "Bearer a.b.c", "Bearer " + self.admin_token[:-3] + "abc"])
        roll = rng.random()
        if body is not None:
            headers["Content-Type"] = ("application/json" if roll < 0.85 else
                                       rng.choice(["text/plain", "application/json; charset=latin1", "", "multipart/form-data"]))
        started = time.monotonic()
        try:
            status, response_headers, data = self.send(PORTS[service], method, path, body, headers)
        except Exception as error:  # a hang or a dropped connection: is the server still there?
            self.report(f"no answer ({type(error).__name__}: {error})", method, path, headers, body)
            self.check_alive()
            return
        elapsed = time.monotonic() - started
        self.counts[status] = self.counts.get(status, 0) + 1
        if status >= 500 and status != 503:
            self.report(f"{status}: {data[:300]!r}", method, path, headers, body)
        elif status >= 400 and not path.startswith("/console"):
            try:
                error = json.loads(data)
                if not isinstance(error, dict) or "error" not in error:
                    self.report(f"{status} without an error field: {data[:200]!r}", method, path, headers, body)
            except ValueError:
                self.report(f"{status} with a body that is not JSON: {data[:200]!r}", method, path, headers, body)
        if self.args.slow and elapsed > self.args.slow:
            self.report(f"slow answer: {elapsed:.2f} s ({status})", method, path, headers, body)

    def check_alive(self):
        try:
            status, _, _ = self.send(PORTS["constitutional"], "GET", "/health", None, {})
            if status == 200:
                return
        except Exception:
            pass
        self.report("the server no longer answers /health", "GET", "/health", {}, None)
        self.finish()

    def report(self, what, method, path, headers, body):
        shown = (body or b"")[:120]
        self.findings.append(what)
        print(f"FINDING {what}\n  {method} {path[:200]} headers={sorted(headers)} body={shown!r}", flush=True)

    def finish(self):
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items()))
        print(f"{sum(self.counts.values())} requests ({counts}); {len(self.findings)} findings")
        sys.exit(1 if self.findings else 0)

    def run(self):
        deadline = time.monotonic() + self.args.seconds
        while time.monotonic() < deadline:
            self.one()
        self.check_alive()
        self.finish()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-user", default="admin")
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--agent-key", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=30, help="seconds before a request counts as hung")
    parser.add_argument("--slow", type=float, default=0, help="report answers slower than this many seconds (0: never)")
    Fuzzer(parser.parse_args()).run()


if __name__ == "__main__":
    main()
