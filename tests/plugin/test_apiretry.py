"""The gate's reads under API faults, without a cluster: the retry policy
(Retry-After, backoff, budget) on a fake clock, and crigate-gate through
crigate's fault proxy in front of a small fake API server (a real HTTP
exchange: statuses, headers, resets). The same faults on a real test-bed
API server: tests/testbed/test_faults.py."""
from __future__ import annotations

import email.utils
import json
from http.client import IncompleteRead

import pytest
import urllib3
from crigate.gate import cli, inventory
from crigate.gate.apiretry import FIRST_BACKOFF_S, GaveUp, Retrier, fault_of, retry_after_s
from crigate.testbed.faultproxy import Fault, FaultProxy, Upstream
from kubernetes.client import ApiException

from tests.plugin.test_gate_engine import DOCKER_NODE, SOCKET_DS, FakeApiServer


class FakeClock:
    def __init__(self):
        self.now, self.slept = 0.0, []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def retrier(budget_s: float = 60, jitter: float = 0.5) -> tuple[Retrier, FakeClock]:
    clock = FakeClock()
    return Retrier(budget_s, 5, sleep=clock.sleep, clock=lambda: clock.now, jitter=lambda: jitter), clock


def failing(*errors, then="ok"):
    """A read that raises each error in turn, then returns `then`."""
    left = list(errors)

    def read(timeout_s):
        if left:
            raise left.pop(0)
        return then
    return read


def http_error(status: int, retry_after: str | None = None) -> ApiException:
    err = ApiException(status=status, reason="fault")
    err.headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return err


@pytest.mark.parametrize("value, seconds", [("3", 3.0), (" 120 ", 120.0), ("0", 0.0), (None, None),
                                            ("soon", None), ("-1", None), ("1.5", None)])
def test_retry_after_in_seconds(value, seconds):
    assert retry_after_s(value) == seconds


def test_retry_after_as_an_http_date():
    assert retry_after_s(email.utils.formatdate(1000 + 7, usegmt=True), now=1000) == 7
    assert retry_after_s(email.utils.formatdate(900, usegmt=True), now=1000) == 0     # already past


@pytest.mark.parametrize("err, fault", [
    (http_error(429), "HTTP 429"), (http_error(500), "HTTP 500"), (http_error(503), "HTTP 503"),
    (http_error(0), "TLS handshake failed"),
    (urllib3.exceptions.ProtocolError("Connection broken", ConnectionResetError(104, "reset")),
     "connection reset"),
    (urllib3.exceptions.ProtocolError("Connection broken", IncompleteRead(b"x", 10)),
     "connection closed mid-answer"),
    (urllib3.exceptions.ReadTimeoutError(None, "/api", "read timed out"), "timed out"),
    (urllib3.exceptions.NewConnectionError(None, "refused"), "connection failed (NewConnectionError)"),
    (ConnectionRefusedError(111, "refused"), "connection refused"),
])
def test_faults_worth_another_try_are_named(err, fault):
    assert fault_of(err) == fault


def untrusted_certificate() -> Exception:
    from kubernetes.client import ApiException
    return ApiException(status=0, reason="SSLError(SSLCertVerificationError(1, '[SSL: "
                                         "CERTIFICATE_VERIFY_FAILED] certificate verify failed'))")


@pytest.mark.parametrize("err", [http_error(401), http_error(403), http_error(404), http_error(410),
                                 ValueError("a bug"), KeyError("name"), untrusted_certificate()])
def test_answers_and_bugs_are_not_retried(err):
    assert fault_of(err) is None
    policy, clock = retrier()
    with pytest.raises(type(err)):
        policy.call(failing(err))
    assert clock.slept == [] and not policy.met


def test_a_fault_that_goes_away_is_survived_and_counted():
    policy, clock = retrier()
    assert policy.call(failing(http_error(503), http_error(500))) == "ok"
    assert policy.met == {"HTTP 503": 1, "HTTP 500": 1}
    assert clock.slept == [policy.backoff_s(1), policy.backoff_s(2)]
    assert "HTTP 500 x1, HTTP 503 x1" in policy.summary()


def test_retry_after_is_honoured_instead_of_the_backoff():
    policy, clock = retrier()
    policy.call(failing(http_error(429, "7")))
    assert clock.slept == [7.0]


def test_a_retry_after_beyond_the_budget_gives_up_at_once_saying_so():
    policy, clock = retrier(budget_s=60)
    with pytest.raises(GaveUp, match="asked to retry after 3600 s") as raised:
        policy.call(failing(http_error(429, "3600")))
    assert clock.slept == [] and raised.value.tries == 1


@pytest.mark.parametrize("jitter", [0.0, 1.0])
def test_backoff_doubles_to_its_cap_with_jitter_within_half(jitter):
    policy, _ = retrier(jitter=jitter)
    waits = [policy.backoff_s(n) for n in range(1, 8)]
    ceilings = [min(8.0, FIRST_BACKOFF_S * 2 ** (n - 1)) for n in range(1, 8)]
    assert all(c / 2 <= w <= c for w, c in zip(waits, ceilings, strict=True)), waits
    assert waits[-1] == (8.0 if jitter else 4.0)


def test_a_fault_that_stays_ends_within_the_budget_naming_it():
    policy, clock = retrier(budget_s=20)
    with pytest.raises(GaveUp) as raised:
        policy.call(failing(*[http_error(503)] * 100))
    assert raised.value.fault == "HTTP 503" and raised.value.tries > 3
    assert policy.lost_s <= 20 and sum(clock.slept) <= 20
    assert "HTTP 503" in str(raised.value) and "20 s retry budget" in str(raised.value)


def test_the_budget_is_shared_by_every_read_of_a_cluster():
    policy, _ = retrier(budget_s=5)
    for _ in range(3):
        policy.call(failing(http_error(503)))          # each survives, each spends
    with pytest.raises(GaveUp):
        for _ in range(20):
            policy.call(failing(http_error(503)))
    assert policy.lost_s <= 5


# crigate-gate through the fault proxy, in front of a fake API server

PAGE_SIZE = 5           # lists of a few objects, read in pages as a big cluster's are
CONFIG_MAPS = [{"metadata": {"name": f"cm-{i}", "namespace": "bulk"}, "data": {"k": "v"}} for i in range(12)]
ITEMS = {"/apis/apps/v1/daemonsets": [SOCKET_DS], "/api/v1/nodes": [DOCKER_NODE],
         "/api/v1/configmaps": CONFIG_MAPS}


@pytest.fixture
def gate_through(tmp_path, capsys, monkeypatch):
    """crigate-gate (its main, in this process) through the fault proxy:
    gate_through(faults, *args) -> exit code, JSON document, stderr, the proxy
    (what it met)."""
    monkeypatch.setattr(inventory, "PAGE_SIZE", PAGE_SIZE)

    def run(faults: list[Fault], *args: str) -> tuple[int, dict, str, FaultProxy]:
        api = FakeApiServer(dict(ITEMS))
        try:
            upstream = Upstream.from_kubeconfig(api.kubeconfig(tmp_path))
            with FaultProxy(upstream, faults, tmp_path, tls=False) as proxy:
                capsys.readouterr()
                code = cli.main([f"--kubeconfig={proxy.kubeconfig(tmp_path / 'via')}", "-o", "json",
                                 f"--report-dir={tmp_path / 'r'}", *args])
                out, err = capsys.readouterr()
        finally:
            api.server.shutdown()
        return code, json.loads(out or "{}"), err, proxy
    return run


@pytest.mark.parametrize("fault", [
    Fault(429, r"/daemonsets$", retry_after="1"),
    Fault(500, r"/configmaps$", continued=True),
    Fault(503, r"/configmaps$", continued=True, times=2),
    Fault(410, r"/configmaps$", continued=True),
    Fault("cut", r"/configmaps$", continued=True),
    Fault("stall", r"/configmaps$", continued=True, stall_s=1.5),
], ids=lambda f: f.describe())
def test_a_fault_that_goes_away_gives_the_clean_verdict_and_says_what_it_met(gate_through, fault):
    code, doc, stderr, proxy = gate_through([fault], "--api-timeout=0.5")
    assert proxy.met, "the fault never fired: the test proves nothing"
    assert code == 1 and doc["verdict"] == "NO-GO", (code, stderr[-2000:])
    assert not doc["undecided"], doc["undecided"]
    said = " ".join(doc["notes"])
    assert "API faults met and retried" in said, doc["notes"]


def test_a_fault_that_stays_is_could_not_decide_naming_the_page_never_a_partial_read(gate_through):
    code, doc, stderr, proxy = gate_through([Fault(503, r"/configmaps$", continued=True, times=0)],
                                            "--api-retry-budget=2")
    assert code == 2 and doc["verdict"] == "UNDECIDED", (code, stderr[-2000:])
    assert any("could not read: list configmaps (apiGroup 'core') cluster-wide, page 2: HTTP 503" in r
               for r in doc["undecided"]), doc["undecided"]
    assert len(proxy.met) > 1


def test_a_continue_token_that_keeps_expiring_is_could_not_decide(gate_through):
    code, doc, _, proxy = gate_through([Fault(410, r"/configmaps$", continued=True, times=0)])
    assert code == 2, doc
    assert any("continue token expired" in r for r in doc["undecided"]), doc["undecided"]
    assert len(proxy.met) == 4          # RELISTS + 1 lists, each stopped at its second page


def test_a_clean_run_meets_no_fault_and_says_none(gate_through):
    code, doc, _, proxy = gate_through([])
    assert code == 1 and not proxy.met
    assert not any("API faults" in n for n in doc["notes"]), doc["notes"]


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_budget_that_is_not_a_positive_number_is_refused(value, capsys):
    with pytest.raises(SystemExit) as raised:
        cli.main([f"--api-retry-budget={value}"])
    assert raised.value.code == 2 and "positive number of seconds" in capsys.readouterr().err
