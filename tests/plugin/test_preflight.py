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


def serving(failures: list[int]):
    """A local HTTP server answering /version, counting the requests; it answers
    the statuses in failures first, in order (503: an apiserver restarting)."""
    asked = []

    class Version(BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            if failures:
                self.send_error(failures.pop(0))
                return
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
    return server, f"http://127.0.0.1:{server.server_address[1]}", asked


@pytest.fixture
def api_server():
    server, address, asked = serving([])
    yield address, asked
    server.shutdown()


@pytest.fixture
def failing_api_server(request):
    """serving() with the failures the test's parameter names."""
    server, address, asked = serving(list(request.param))
    yield address, asked
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


@pytest.mark.parametrize("failing_api_server", [[503, 429]], indirect=True)
def test_a_server_that_answers_with_a_fault_is_asked_again(tmp_path, failing_api_server):
    server, asked = failing_api_server
    assert preflight.check(kubeconfig_for(tmp_path, server)) == server
    assert len(asked) == 3, asked


@pytest.mark.parametrize("failing_api_server", [[503] * 50], indirect=True)
def test_a_server_that_keeps_failing_is_one_line_within_the_budget(tmp_path, failing_api_server):
    server, asked = failing_api_server
    with pytest.raises(preflight.PreflightError, match=r"kept failing: HTTP 503 \(\d+ tries.*--api-retry-budget"):
        preflight.check(kubeconfig_for(tmp_path, server), retry_budget_s=1.0)
    assert 2 <= len(asked) < 50, asked


@pytest.mark.parametrize("failing_api_server", [[401]], indirect=True)
def test_refused_credentials_are_not_asked_again(tmp_path, failing_api_server):
    server, asked = failing_api_server
    with pytest.raises(preflight.PreflightError, match="refused the credentials"):
        preflight.check(kubeconfig_for(tmp_path, server))
    assert len(asked) == 1


def test_an_address_where_nothing_listens_fails_at_once(tmp_path):
    from crigate.testbed.ports import free_port
    with pytest.raises(preflight.PreflightError, match="unreachable"):
        preflight.check(kubeconfig_for(tmp_path, f"http://127.0.0.1:{free_port()}"))


def test_a_server_that_resets_every_connection_is_unreachable_after_the_budget(tmp_path):
    """Connections accepted, then reset (SO_LINGER 0): asked again, then named unreachable."""
    import socket
    import struct
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def reset_each():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.recv(4096)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    threading.Thread(target=reset_each, daemon=True).start()
    try:
        server = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(preflight.PreflightError, match=r"is unreachable: connection .*tries"):
            preflight.check(kubeconfig_for(tmp_path, server), retry_budget_s=1.0)
        assert len(accepted) >= 2
    finally:
        listener.close()
