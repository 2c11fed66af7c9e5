"""The up-front API check: the server's answer or one line naming what is
wrong, asked on every check (nothing cached across clusters)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from crigate import preflight

# what an API server's /version holds (every field the client requires)
VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.2", "gitCommit": "0" * 40,
           "gitTreeState": "clean", "buildDate": "2026-11-01T00:00:00Z", "goVersion": "go1.25.4",
           "compiler": "gc", "platform": "linux/amd64"}


@pytest.fixture
def api_server():
    """A local HTTP server answering /version, counting the requests."""
    asked = []

    class Version(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            body = json.dumps(VERSION).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Version)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()


def kubeconfig_for(tmp_path, server: str):
    path = tmp_path / "kubeconfig"
    path.write_text("apiVersion: v1\nkind: Config\n"
                    f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
                    "users: [{name: u, user: {token: t}}]\n"
                    "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
    return path


def test_every_check_asks_the_api_server_afresh(tmp_path, api_server):
    """No answer is kept: a second cluster, or the same one read again, is asked."""
    server, asked = api_server
    kubeconfig = kubeconfig_for(tmp_path, server)
    assert preflight.check(kubeconfig) == server
    assert preflight.check(kubeconfig, "x") == server
    assert len(asked) == 2, asked


def test_a_missing_context_is_named(tmp_path, api_server):
    server, asked = api_server
    kubeconfig = kubeconfig_for(tmp_path, server)
    with pytest.raises(preflight.PreflightError, match="no context 'y'"):
        preflight.check(kubeconfig, "y")
    assert asked == []
