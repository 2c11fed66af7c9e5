"""Toxiproxy (github.com/Shopify/toxiproxy, built from its Go module by
gobuild.build_toxiproxy) in front of a test-bed API server: TCP-level faults
for the gate's fault tests. Its HTTP API, toxics and their attributes are
those of its README ("Toxics", "HTTP API"); the proxy listens on port 0 so the
server picks a free port and answers with it.
"""
from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from . import gobuild
from .ports import free_port
from .progress import stop

PROXY = "crigate-api"


class Toxiproxy:
    """toxiproxy-server on loopback with one proxy to `upstream` (host:port)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.api = f"http://127.0.0.1:{free_port()}"
        self.process: subprocess.Popen | None = None
        self.listen = ""

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(f"{self.api}{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
        return json.loads(text) if text.strip() else {}

    def __enter__(self) -> Toxiproxy:
        server = gobuild.build_toxiproxy() / "toxiproxy-server"
        port = urlsplit(self.api).port
        self.process = subprocess.Popen([str(server), "-host", "127.0.0.1", "-port", str(port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.call("GET", "/version")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"toxiproxy-server did not answer on {self.api}") from None
                time.sleep(0.1)
        self.listen = self.call("POST", "/proxies", {"name": PROXY, "listen": "127.0.0.1:0",
                                                     "upstream": self.upstream})["listen"]
        return self

    def __exit__(self, *exc) -> None:
        if self.process:
            stop(self.process)

    def add(self, kind: str, stream: str = "downstream", toxicity: float = 1.0, **attributes) -> None:
        """One toxic (README "Toxics": latency, bandwidth, timeout, reset_peer, limit_data, slicer...)."""
        self.call("POST", f"/proxies/{PROXY}/toxics", {"name": f"{kind}_{stream}", "type": kind,
                                                       "stream": stream, "toxicity": toxicity,
                                                       "attributes": attributes})

    def clear(self) -> None:
        """Every toxic removed, the proxy enabled (POST /reset)."""
        self.call("POST", "/reset")


def kubeconfig_through(source: Path, server: str, dest: Path) -> Path:
    """A copy of source whose clusters all point at `server` (https://HOST:PORT),
    credentials kept: for a TCP proxy, TLS still ends at the API server, whose
    certificate must name HOST (kind's names 127.0.0.1)."""
    doc = yaml.safe_load(Path(source).read_text())
    for entry in doc.get("clusters") or []:
        entry["cluster"]["server"] = server
    dest.write_text(yaml.safe_dump(doc))
    return dest


def api_address(kubeconfig: Path) -> str:
    """host:port of the current context's API server."""
    doc = yaml.safe_load(Path(kubeconfig).read_text())
    context = next(c["context"] for c in doc["contexts"] if c["name"] == doc["current-context"])
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
    url = urlsplit(cluster["server"])
    return f"{url.hostname}:{url.port or 443}"
