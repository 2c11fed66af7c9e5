"""A small HTTP(S) proxy in front of an API server that answers chosen
requests with the faults Toxiproxy cannot give (it works on TCP, not HTTP):
HTTP 429 with Retry-After, 500, 503, 410 Gone on a continue token, an answer
that never comes (a stall), an answer cut in the middle of its body.

It terminates TLS with a certificate of its own (made with openssl for
127.0.0.1), forwards every other request to the real API server with the
kubeconfig's own credentials, and writes a kubeconfig that trusts it. Answers
are forwarded whole, so watches and exec streams are not for it: it is for
the gate's reads.
"""
from __future__ import annotations

import http.client
import http.server
import json
import re
import socket
import ssl
import struct
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

# Status bodies as the API server writes them (metav1.Status).
REASONS = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 410: "Expired"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


@dataclass
class Fault:
    """What to do to the requests it matches: `answer` is an HTTP status
    (429, 500, 503, 410), "stall" (hold the request stall_s, then close
    without an answer) or "cut" (send half the answer, then reset)."""
    answer: int | str
    path: str = ""                  # regex the request's path must match ("" = every GET)
    continued: bool | None = None   # True: only pages after the first (continue=), False: only first pages
    times: int = 1                  # matching requests it hits (0: all of them)
    retry_after: str | None = None  # Retry-After header of a 429/503
    stall_s: float = 0.0
    hits: int = 0

    def matches(self, path: str, query: str) -> bool:
        if self.times and self.hits >= self.times:
            return False
        if self.continued is not None and ("continue=" in query) != self.continued:
            return False
        return re.search(self.path, path) is not None

    def describe(self) -> str:
        which = {True: " (a page after the first)", False: " (a first page)", None: ""}[self.continued]
        times = "every" if not self.times else f"the first {self.times}" if self.times > 1 else "the first"
        what = (f"HTTP {self.answer}" + (f" with Retry-After: {self.retry_after}" if self.retry_after else "")
                if isinstance(self.answer, int) else
                f"no answer for {self.stall_s:g} s" if self.answer == "stall" else "half the answer, then a reset")
        return f"{what} to {times} GET matching {self.path or '.*'}{which}"


@dataclass
class Upstream:
    """Where the real API server is and how the proxy proves who it is."""
    scheme: str
    host: str
    port: int
    context: ssl.SSLContext | None
    authorization: str | None

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path, context: str | None = None) -> Upstream:
        from kubernetes import client, config
        settings = client.Configuration()
        config.load_kube_config(str(kubeconfig), context, client_configuration=settings)
        url = urlsplit(settings.host)
        tls = None
        if url.scheme == "https":
            tls = ssl.create_default_context(cafile=settings.ssl_ca_cert)
            if settings.cert_file:
                tls.load_cert_chain(settings.cert_file, settings.key_file)
        token = (settings.api_key or {}).get("authorization") or (settings.api_key or {}).get("BearerToken")
        return cls(url.scheme, url.hostname, url.port or (443 if url.scheme == "https" else 80), tls, token)

    def connection(self) -> http.client.HTTPConnection:
        if self.context:
            return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=120)
        return http.client.HTTPConnection(self.host, self.port, timeout=120)


class FaultProxy:
    """Start it, point a client at kubeconfig(), read what it met in `met`."""

    def __init__(self, upstream: Upstream, faults: list[Fault], workdir: Path, tls: bool = True):
        self.upstream, self.faults, self.workdir = upstream, faults, Path(workdir)
        self.met: list[str] = []            # "HTTP 503: GET /api/v1/pods?limit=500", in order
        self.lock = threading.Lock()
        self.cert = self.workdir / "faultproxy.crt" if tls else None
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.server.daemon_threads = True
        if tls:
            self.make_certificate()
            served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            served.load_cert_chain(self.cert, self.workdir / "faultproxy.key")
            self.server.socket = served.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.cert else 'http'}://127.0.0.1:{self.server.server_port}"

    def make_certificate(self) -> None:
        """A self-signed certificate for 127.0.0.1, one day long (openssl req -x509)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=crigate-faultproxy", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(self.workdir / "faultproxy.key"), "-out", str(self.cert)],
                       check=True, capture_output=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig that reaches the API server through this proxy (which
        adds the credentials); it trusts the proxy's certificate."""
        cluster = {"server": self.url, **({"certificate-authority": str(self.cert)} if self.cert else {})}
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "faultproxy",
            "clusters": [{"name": "faultproxy", "cluster": cluster}],
            "users": [{"name": "faultproxy", "user": {}}],
            "contexts": [{"name": "faultproxy", "context": {"cluster": "faultproxy", "user": "faultproxy"}}]}))
        return path

    def fault_for(self, method: str, target: str) -> Fault | None:
        path, _, query = target.partition("?")
        with self.lock:
            for fault in self.faults:
                if method == "GET" and fault.matches(path, query):
                    fault.hits += 1
                    what = fault.answer if isinstance(fault.answer, str) else f"HTTP {fault.answer}"
                    self.met.append(f"{what}: {method} {target}")
                    return fault
        return None

    def handler(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"      # keep-alive, as the API server

            def do_GET(self):
                fault = proxy.fault_for("GET", self.path)
                if fault is None:
                    self.forward()
                elif fault.answer == "stall":
                    time.sleep(fault.stall_s)
                    self.close_connection = True
                elif fault.answer == "cut":
                    self.forward(cut=True)
                else:
                    self.status(fault)

            do_POST = do_PUT = do_PATCH = do_DELETE = lambda self: self.forward()

            def status(self, fault: Fault) -> None:
                code = int(fault.answer)
                body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                   "message": f"crigate faultproxy: {fault.describe()}",
                                   "reason": REASONS.get(code, ""), "code": code}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                if fault.retry_after is not None:
                    self.send_header("Retry-After", fault.retry_after)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def forward(self, cut: bool = False) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in HOP_BY_HOP | {"host", "authorization"}}
                if proxy.upstream.authorization:
                    headers["Authorization"] = proxy.upstream.authorization
                upstream = proxy.upstream.connection()
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not cut:
                    self.wfile.write(data)
                    return
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                time.sleep(0.3)                 # sent before the reset, which drops what is unsent
                # SO_LINGER 0, and closed here before the server's own shutdown (a FIN):
                # the client meets a TCP reset in the middle of the body
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.rfile.close()              # its reference would keep the socket open
                self.connection.close()
                self.close_connection = True

            def log_message(self, *args):
                pass

        return Handler
