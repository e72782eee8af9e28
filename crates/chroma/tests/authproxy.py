#!/usr/bin/env python3
"""Minimal token-checking reverse proxy for `chroma run` (which has no auth).
usage: authproxy.py LISTEN_PORT UPSTREAM_PORT TOKEN"""
import http.client, json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTEN, UPSTREAM, TOKEN = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
OPEN_PATHS = {"/api/v2/heartbeat", "/api/v2/version", "/api/v2/pre-flight-checks"}
HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def _send(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            if k.lower() not in HOP: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def _proxy(self):
        path = self.path.split("?", 1)[0]
        if path not in OPEN_PATHS:
            tok = self.headers.get("x-chroma-token")
            auth = self.headers.get("authorization", "")
            if auth.lower().startswith("bearer "): tok = tok or auth[7:]
            if tok != TOKEN:
                return self._send(401, json.dumps({"error": "AuthError", "message": "Unauthorized"}).encode(),
                                  [("Content-Type", "application/json")])
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else None
        c = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=300)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse(); data = r.read(); c.close()
        self._send(r.status, data, r.getheaders())
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _proxy

ThreadingHTTPServer(("127.0.0.1", LISTEN), H).serve_forever()
