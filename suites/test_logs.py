"""Log paths and format: containers log where and how the kubelet's CRI
logging says, and a Docker-JSON log shipper would read none of it."""
from __future__ import annotations

import time
from collections import Counter

import pytest

from plugins import workloads
from plugins.crilog import join_partials, parse_cri, parse_docker_json
from plugins.expectations import CONTAINER_LOG_DIR, DOCKER_CONTAINER_LOGS, POD_LOG_DIR
from plugins.kube import container_id

pytestmark = pytest.mark.logs

LONG_LINE_BYTES = 40000          # > 16 KiB: every runtime must split it
LONG_LINE = "crigate long line " + "x" * (LONG_LINE_BYTES - len("crigate long line "))
EXPECTED_LINES = [("stdout", "crigate stdout line 1"), ("stdout", "crigate stdout line 2"),
                  ("stderr", "crigate stderr line 1"), ("stdout", LONG_LINE),
                  ("stdout", "crigate done")]


def pod_log_path(pod, container: str, restart: int = 0) -> str:
    m = pod.metadata
    return f"{POD_LOG_DIR}/{m.namespace}_{m.name}_{m.uid}/{container}/{restart}.log"


def container_log_link(pod, container: str) -> str:
    m = pod.metadata
    return f"{CONTAINER_LOG_DIR}/{m.name}_{m.namespace}_{container}-{container_id(pod, container)}.log"


# --- checks ---------------------------------------------------------------

def check_pod_log_file(host, node: str, path: str) -> None:
    """The runtime writes the file itself. Under dockershim (and cri-dockerd)
    it is a symlink to Docker's <id>-json.log, which a shipper that mounts only
    /var/log cannot follow."""
    __tracebackhide__ = True
    f = host.file(path)
    observed = (f"a symlink to {f.linked_to}" if f.is_symlink else
                "a regular file" if f.is_file else "nothing")
    assert f.is_file and not f.is_symlink, (
        f"node {node}: expected CRI pod log file {path} (a regular file), observed {observed}")


def check_container_log_symlink(host, node: str, link: str, target: str) -> None:
    __tracebackhide__ = True
    f = host.file(link)
    observed = f.linked_to if f.is_symlink else ("a regular file" if f.exists else "nothing")
    assert f.is_symlink and observed == target, (
        f"node {node}: expected {link} -> {target}, observed {observed}")


def check_cri_format(node: str, path: str, lines: list[str]) -> list:
    __tracebackhide__ = True
    bad = [line[:120] for line in lines if parse_cri(line) is None]
    assert lines and not bad, (f"node {node}: {path}: expected every line in CRI format "
                               f"'<RFC3339Nano> stdout|stderr F|P <text>', observed {len(bad)} "
                               f"of {len(lines)} not: {bad[:3]}")
    return [parse_cri(line) for line in lines]


def check_long_line_split(node: str, path: str, entries: list, expected: str) -> None:
    __tracebackhide__ = True
    joined = [(text, chunks) for _, text, chunks in join_partials(entries) if text.startswith(expected[:18])]
    unreadable = sum(e is None for e in entries)
    assert joined, (f"node {node}: {path}: expected the {len(expected)}-byte line, observed none"
                    + (f" ({unreadable} of {len(entries)} lines are not CRI format)" if unreadable else ""))
    text, chunks = joined[0]
    assert chunks > 1 and text == expected, (
        f"node {node}: {path}: expected the {len(expected)}-byte line as P...P F chunks joining to "
        f"the original, observed {chunks} chunk(s) joining to {len(text)} bytes")


def check_no_docker_container_logs(host, node: str) -> None:
    __tracebackhide__ = True
    found = host.run("find %s -type f 2>/dev/null | head -5", DOCKER_CONTAINER_LOGS).stdout.split()
    assert not found, f"node {node}: expected nothing under {DOCKER_CONTAINER_LOGS}, observed {found}"


def check_log_shipper_break(node: str, path: str, lines: list[str]) -> None:
    """The break the seeds describe: a `Parser docker` shipper reads none of
    the lines, a CRI parser reads all of them."""
    __tracebackhide__ = True
    as_docker = sum(parse_docker_json(line) is not None for line in lines)
    as_cri = sum(parse_cri(line) is not None for line in lines)
    assert as_docker == 0 and as_cri == len(lines), (
        f"node {node}: {path}: expected a Docker JSON parser to read 0 and a CRI parser all "
        f"{len(lines)} lines, observed Docker JSON {as_docker}, CRI {as_cri}")


def check_kubectl_logs_match_file(pod_name: str, kubectl_lines: list[str], entries: list) -> None:
    """Same lines through the API as in the file. Compared as a multiset: when
    one stream's line is split into P chunks and the other stream writes in
    between, the order across streams is not defined."""
    __tracebackhide__ = True
    from_file = Counter(text for _, text, _ in join_partials(entries))
    from_api = Counter(kubectl_lines)
    assert from_api == from_file, (
        f"pod {pod_name}: expected `kubectl logs` to return the log file's lines, observed "
        f"only via the API: {[t[:60] for t in from_api - from_file]}, only in the file: "
        f"{[t[:60] for t in from_file - from_api]}")


# --- fixtures ---------------------------------------------------------------

@pytest.fixture(scope="module")
def logger(cluster, module_namespace):
    """A running logger pod that has written all its lines."""
    pod = cluster.kube.run_pod(module_namespace, workloads.logger_pod(long_bytes=LONG_LINE_BYTES))
    deadline = time.monotonic() + 30
    while "crigate done" not in cluster.kube.logs(module_namespace, "logger"):
        assert time.monotonic() < deadline, "pod logger: 'crigate done' not logged within 30s"
        time.sleep(0.3)
    return pod


@pytest.fixture(scope="module")
def logger_file(cluster, logger):
    node = logger.spec.node_name
    host = cluster.host(node)
    path = pod_log_path(logger, "logger")
    return node, host, path, host.file(path).content_string.splitlines()


# --- tests ------------------------------------------------------------------

def test_pod_log_file_is_under_var_log_pods(logger, logger_file):
    node, host, path, _ = logger_file
    check_pod_log_file(host, node, path)


def test_var_log_containers_links_to_the_pod_log(logger, logger_file):
    node, host, path, _ = logger_file
    check_container_log_symlink(host, node, container_log_link(logger, "logger"), path)


def test_every_line_is_cri_format(logger_file):
    node, _, path, lines = logger_file
    entries = check_cri_format(node, path, lines)
    observed = [(stream, text) for stream, text, _ in join_partials(entries)]
    assert sorted(observed) == sorted(EXPECTED_LINES), (
        f"node {node}: {path}: expected the logger's {len(EXPECTED_LINES)} lines, "
        f"observed {[(s, t[:40]) for s, t in observed]}")


def test_long_line_arrives_as_partial_chunks(logger_file):
    node, _, path, lines = logger_file
    check_long_line_split(node, path, [parse_cri(line) for line in lines], LONG_LINE)


def test_nothing_under_var_lib_docker_containers(cluster, logger_file):
    node, host, _, _ = logger_file
    check_no_docker_container_logs(host, node)


def test_kubectl_logs_match_the_file(cluster, module_namespace, logger_file):
    node, _, path, lines = logger_file
    api_lines = cluster.kube.logs(module_namespace, "logger").splitlines()
    check_kubectl_logs_match_file(f"{module_namespace}/logger", api_lines,
                                  [parse_cri(line) for line in lines])


def test_docker_json_log_shipper_reads_nothing(logger_file):
    node, _, path, lines = logger_file
    check_log_shipper_break(node, path, lines)


def test_restarted_container_logs_to_1_log(cluster, module_namespace):
    kube = cluster.kube
    kube.core.create_namespaced_pod(module_namespace, workloads.logger_pod(
        "restarts", long_bytes=100, exit_code=3, restart="OnFailure"))
    deadline = time.monotonic() + 90
    while True:
        pod = kube.core.read_namespaced_pod("restarts", module_namespace)
        statuses = pod.status.container_statuses or []
        if statuses and statuses[0].restart_count >= 1 and statuses[0].container_id:
            break
        assert time.monotonic() < deadline, (f"pod {module_namespace}/restarts: expected a restart "
                                             f"within 90s, observed {statuses}")
        time.sleep(0.5)
    node = pod.spec.node_name
    check_pod_log_file(cluster.host(node), node, pod_log_path(pod, "logger", restart=1))
