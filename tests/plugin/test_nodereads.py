"""nodereads.across_nodes: nodes worked on at once; a failing or silent node
is that node's result alone."""
from __future__ import annotations

import threading
import time

import pytest
from crigate.nodereads import NodeUnreadable, across_nodes


def test_nodes_run_together_and_results_keep_the_nodes_order():
    barrier = threading.Barrier(4, timeout=5)     # only passes if all four run at once
    results = across_nodes(["d", "a", "c", "b"], lambda n: (barrier.wait(), n.upper())[1], what="t")
    assert list(results.items()) == [("d", "D"), ("a", "A"), ("c", "C"), ("b", "B")]


def test_concurrency_is_bounded():
    running, peak, lock = [0], [0], threading.Lock()

    def work(node):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
    across_nodes([f"n{i}" for i in range(10)], work, what="t", concurrency=3)
    assert peak[0] <= 3


def test_a_failing_node_is_named_with_its_reason_and_the_others_pass():
    def work(node):
        if node == "bad":
            raise RuntimeError("exec refused")
        return "ok"
    results = across_nodes(["good", "bad"], work, what="facts")
    assert results.of("good") == "ok"
    with pytest.raises(NodeUnreadable, match="node bad: facts: could not be read: RuntimeError: exec refused"):
        results.of("bad")
    assert list(results.failed) == ["bad"]


def test_an_assertion_is_kept_as_the_nodes_failure_message():
    def work(node):
        assert node != "n2", f"node {node}: expected x, observed y"
    results = across_nodes(["n1", "n2"], work, what="t")
    assert str(results.failed["n2"]).startswith("node n2: expected x, observed y")


def test_a_silent_node_fails_after_the_timeout_without_holding_the_others():
    release = threading.Event()

    def work(node):
        if node == "silent":
            release.wait(10)
        return node
    started = time.monotonic()
    results = across_nodes(["silent", "quick"], work, what="facts", timeout=0.3)
    release.set()
    assert time.monotonic() - started < 5
    assert results.of("quick") == "quick"
    assert "node silent: facts: could not be read: no answer within 0.3s" in str(results.failed["silent"])


def test_a_kept_exception_is_raised_as_it_is():
    def work(node):
        pytest.skip("no crictl")
    with pytest.raises(pytest.skip.Exception):
        across_nodes(["n1"], work, what="t", keep=(pytest.skip.Exception,))


def test_progress_is_said_as_nodes_answer_when_the_work_is_long(monkeypatch):
    from crigate import nodereads
    monkeypatch.setattr(nodereads, "PROGRESS_EVERY_S", 0.05)
    said = []
    across_nodes([f"n{i}" for i in range(3)], lambda n: time.sleep(0.2), what="facts", progress=said.append)
    assert said and said[-1] == "crigate: facts: 3 of 3 nodes"


def test_a_node_waiting_for_its_turn_is_not_timed_out():
    results = across_nodes([f"n{i}" for i in range(12)], lambda n: time.sleep(0.1) or n, what="t",
                           concurrency=3, timeout=0.35)
    assert not results.failed and list(results.values()) == [f"n{i}" for i in range(12)]
