"""crigate's pytest plugin: options, one cluster per runtime, cleanup, reports.

Tests take the `runtime` fixture (parametrized per --runtime, ids like
[containerd]) and the `cluster` fixture built on it. Under xdist each
runtime's tests go to one worker (plugins/scheduling.py), so each cluster is
created once. Clusters carry a per-session token in their name; the controller
deletes whatever is left with that token at the end, so a crashed worker or
Ctrl-C leaves nothing behind unless --keep-cluster.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from . import cancel, known, nodefacts, nodereads, nodes, options, preflight, providers, records, report, scheduling
from .gate import manifests
from .kube import Kube, mark_run
from .providers import ClusterProvider
from .report import pytest_runtest_makereport  # noqa: F401 (hook)

SETTINGS = pytest.StashKey[options.Settings]()
TOKEN = pytest.StashKey[str]()
PROVIDERS = pytest.StashKey[list]()
MANIFEST_OBJECTS = pytest.StashKey[list]()   # --manifests, read once at configure

OPTIONAL_AREAS = ("cri",)    # deselected unless the -m expression names them
TIMINGS_FILE = "timings.jsonl"   # cluster create/delete seconds, one line per event


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


SUITE_RBAC = Path(__file__).with_name("clusterrole.yaml")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config):
    """--print-rbac: the suites' ClusterRole, before anything is set up."""
    if config.getoption("print_rbac", False):
        print(SUITE_RBAC.read_text(), end="")
        return 0
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    settings = options.settings_from(config)
    worker_input = getattr(config, "workerinput", None)
    if providers.capabilities_of(settings).exists_before_run and not worker_input:
        try:                  # once, up front: one line instead of a failure per check
            preflight.check(settings.kubeconfig, settings.context, retry_budget_s=settings.api_retry_budget)
        except preflight.PreflightError as err:      # 2: could not decide, as crigate-gate
            pytest.exit(f"crigate: {err}", returncode=report.GATE_UNDECIDED_EXIT)
    if settings.manifests:
        try:
            skipped: list[str] = []
            config.stash[MANIFEST_OBJECTS] = (manifests.read_objects(list(settings.manifests),
                                                                     skipped=skipped), skipped)
        except manifests.ManifestError as err:
            raise pytest.UsageError(f"--manifests: {err}") from None
    if settings.runtimes == (options.AUTO,):
        settings = replace(settings, runtimes_from_nodes=True,
                           runtimes=tuple(worker_input["crigate_runtimes"]) if worker_input
                           else resolve_auto_runtimes(settings))
    config.stash[SETTINGS] = settings
    config.stash[PROVIDERS] = []
    for area, what in report.AREA_MARKERS.items():
        config.addinivalue_line("markers", f"{area}: {what}")
    config.stash[TOKEN] = worker_input["crigate_token"] if worker_input else run_token()
    mark_run(config.stash[TOKEN])
    cancel.sigterm_interrupts()          # CI cancels with SIGTERM: tear down as on Ctrl-C
    if worker_input:
        return
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(), "crigate-xdist")
    report.register(config, settings)


RUN_TOKEN_ENV = "CRIGATE_RUN_TOKEN"     # e.g. the CI job's id: names the run's clusters and labels
RUN_TOKEN = re.compile(r"^[a-z0-9]{1,16}$")


def run_token() -> str:
    """The run's token: $CRIGATE_RUN_TOKEN when given, else a random one."""
    given = os.environ.get(RUN_TOKEN_ENV, "")
    if given and not RUN_TOKEN.match(given):
        raise pytest.UsageError(f"{RUN_TOKEN_ENV}={given!r}: expected 1 to 16 lower-case letters or "
                                "digits (it becomes part of cluster names and a label value)")
    return given or secrets.token_hex(3)


class XdistHooks:
    """xdist's hooks, registered only where xdist is installed."""

    @staticmethod
    def pytest_configure_node(node) -> None:
        """controller -> worker: the session token (cluster names, cleanup) and
        the runtimes (--runtime auto is read from the nodes once, here)."""
        node.workerinput["crigate_token"] = node.config.stash[TOKEN]
        node.workerinput["crigate_runtimes"] = list(node.config.stash[SETTINGS].runtimes)

    @staticmethod
    def pytest_xdist_make_scheduler(config, log):
        return scheduling.make_scheduler(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    deselect_optional_areas(config, items)
    settings = config.stash[SETTINGS]
    known.mark_known_differences(items, settings.k8s_minor,
                                 providers.capabilities_of(settings).builds_nodes)
    report.tag_items(items)


def deselect_optional_areas(config: pytest.Config, items: list) -> None:
    """Optional areas run only when `-m` names them; with --manifests (no
    cluster) only the gate runs."""
    chosen = config.option.markexpr or ""
    offline = bool(config.stash[SETTINGS].manifests)
    dropped = [i for i in items if any(i.get_closest_marker(a) and a not in chosen
                                       for a in OPTIONAL_AREAS)
               or (offline and not i.get_closest_marker("gate"))]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [i for i in items if i not in dropped]


@pytest.hookimpl(tryfirst=True)      # before the test's own parametrize marks: its id leads
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "runtime" in metafunc.fixturenames:
        runtimes = metafunc.config.stash[SETTINGS].runtimes
        metafunc.parametrize(
            "runtime", [pytest.param(r, id=r) for r in runtimes],
            scope="session")


def resolve_auto_runtimes(settings: options.Settings) -> tuple[str, ...]:
    """--runtime auto: the runtimes the (selected) Ready nodes report."""
    try:
        listed = Kube(settings.kubeconfig, settings.context).core.list_node(
            label_selector=settings.node_selector or "").items
        found = nodes.runtimes_present(listed)
    except ValueError as err:
        raise pytest.UsageError(f"--runtime auto: {err}") from None
    except Exception as err:
        raise pytest.UsageError(f"--runtime auto: cannot list the nodes of {settings.kubeconfig}: "
                                f"{getattr(err, 'reason', None) or err}") from None
    if not found:
        picked = f" that --nodes {settings.node_selector} selects" if settings.node_selector else ""
        raise pytest.UsageError(f"--runtime auto: no Ready node{picked} in {settings.kubeconfig}")
    return found


@dataclass
class ClusterUnderTest:
    """What a check needs of one runtime's cluster: its nodes are the Ready
    nodes that run that runtime (on a mixed cluster, some of them); nodes
    selected but not Ready are `not_ready` (node -> why), and fail every node
    check by name."""
    runtime: str
    provider: ClusterProvider
    kube: Kube
    nodes: list[str] = field(default_factory=list)
    not_ready: dict[str, str] = field(default_factory=dict)
    concurrency: int = nodereads.NODE_CONCURRENCY
    progress: Callable[[str], None] | None = None

    def host(self, node: str):
        return self.provider.node_host(node)

    def across_nodes(self, work, what: str, **options) -> nodereads.NodeResults:
        """work(node) on every node under test at once (nodereads.across_nodes);
        a node not Ready gets its NodeUnreadable without being asked."""
        results = nodereads.across_nodes(self.nodes, work, what=f"{what} [{self.runtime}]",
                                         concurrency=self.concurrency, progress=self.progress,
                                         **options)
        for node, why in self.not_ready.items():
            results[node] = nodereads.unreadable(node, what, why)
        return results

    def read_nodes(self, request: nodefacts.FactsRequest, what: str) -> nodereads.NodeResults:
        """Every node's facts for request, one command per node, all nodes at once."""
        return self.across_nodes(lambda node: nodefacts.gather(self.host(node), node, request), what)

    @property
    def profile(self):
        """The runtime's RuntimeProfile: checks branch on its capabilities."""
        return self.provider.profile

    @property
    def capabilities(self) -> providers.Capabilities:
        """What the provider lets checks do: checks skip on these, never on its name."""
        return self.provider.capabilities


def make_provider(settings: options.Settings, runtime: str, token: str) -> ClusterProvider:
    return providers.make_provider(settings, runtime, token, settings.report_dir / TIMINGS_FILE)


def terminal_line(config: pytest.Config) -> Callable[[str], None]:
    """Print a line on the terminal past pytest's capture (progress on long work);
    call it from the test's own thread."""
    capture = config.pluginmanager.getplugin("capturemanager")      # None with -p no:capture

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(line, file=sys.stderr, flush=True)
    return say


@pytest.fixture(scope="session")
def crigate_settings(pytestconfig) -> options.Settings:
    return pytestconfig.stash[SETTINGS]


@pytest.fixture(scope="session")
def cluster(runtime, pytestconfig) -> ClusterUnderTest:
    """The cluster for `runtime`, created once per session (per worker)."""
    settings = pytestconfig.stash[SETTINGS]
    provider = make_provider(settings, runtime, pytestconfig.stash[TOKEN])
    pytestconfig.stash[PROVIDERS].append(provider)
    try:
        provider.create()
    except Exception as err:
        pytest.fail(f"[{runtime}] cluster could not be created: {err}", pytrace=False)
    kubeconfig, context = provider.kubeconfig()
    kube = Kube(kubeconfig, context, image_repo=settings.image_repo)
    try:
        every = kube.nodes()
        listed = (kube.core.list_node(label_selector=settings.node_selector).items
                  if settings.node_selector else every)
    except Exception as err:
        provider.delete()
        reason = getattr(err, "reason", None) or err
        pytest.fail(f"[{runtime}] cannot list the nodes of cluster {provider.name} "
                    f"({kubeconfig}): {reason}", pytrace=False)
    # --runtime auto: each runtime's checks on the nodes that report it; a named
    # runtime: every Ready node, so a node that runs something else fails them
    own = (nodes.of_runtime(listed, runtime) if settings.runtimes_from_nodes
           else [n.metadata.name for n in listed if nodes.is_ready(n)])
    if not own:
        provider.delete()
        picked = f" among those --nodes {settings.node_selector} selects" if settings.node_selector else ""
        seen = ", ".join(f"{n.metadata.name} {nodes.runtime_version(n)}" for n in listed)
        pytest.fail(f"[{runtime}] no Ready node of cluster {provider.name} to check {runtime} on"
                    f"{picked}; nodes: {seen}", pytrace=False)
    if set(own) != {n.metadata.name for n in every if nodes.is_ready(n)}:
        kube.pin_pods_to(own)            # pod checks run on the nodes under test only
    under_test = ClusterUnderTest(runtime, provider, kube, own,
                                  not_ready=nodes.not_ready(listed, runtime if settings.runtimes_from_nodes else None),
                                  concurrency=settings.node_concurrency,
                                  progress=terminal_line(pytestconfig))
    report.record_cluster(pytestconfig, runtime, {
        "kubelet_versions": sorted({n.status.node_info.kubelet_version for n in listed
                                    if n.metadata.name in own and n.status.node_info}),
        "low_level_runtime": under_test.profile.low_level_runtime,
        **provider.describe(),
        "node_runtimes": {n.metadata.name: nodes.runtime_version(n) for n in listed},
        "nodes_checked": own,
        "node_groups": {n.metadata.name: nodes.node_group(n) for n in listed if nodes.node_group(n)}})
    yield under_test
    try:
        kube.settle()            # the checks' namespaces, deleted without waiting, are gone
    finally:
        with cancel.held_signals(f"the teardown of {provider.name}"):
            provider.delete()    # a node it cannot remove fails the teardown, named
        pytestconfig.stash[PROVIDERS].remove(provider)   # kept till then: sessionfinish retries


@pytest.fixture
def observed(request):
    """observed(text): what the check saw, kept as its message when it passes
    (results.json, the report's cell) as a failure's message is."""
    return lambda text: request.node.user_properties.append((records.OBSERVED_TAG, text))


class SkippedOn(str):
    """Why a check was skipped on one node (pytest.skip inside it)."""


@pytest.fixture
def every_node(cluster, request):
    """every_node(check): check(node) on each node under test, all nodes at once.
    Every node is checked; the failure names each node that failed (a node that
    could not be read, with why), and each node's outcome goes to the report's
    per-node table. A node where the check skips (pytest.skip in check) is
    skipped alone; the test skips when every node did."""
    def run(check) -> None:
        __tracebackhide__ = True

        def one(node: str):
            try:
                return check(node)
            except pytest.skip.Exception as skipped:
                return SkippedOn(skipped.msg)
        outcomes = cluster.across_nodes(one, request.node.originalname)
        failed = {node: str(err) for node, err in outcomes.failed.items()}
        skipped = {node: why for node, why in outcomes.items() if isinstance(why, SkippedOn)}
        request.node.user_properties.append(records.NodeOutcomes({
            node: "failed" if node in failed else "skipped" if node in skipped else "passed"
            for node in outcomes}).as_property())
        if len(failed) == 1:
            raise AssertionError(next(iter(failed.values())))
        if failed:
            raise AssertionError(f"{len(failed)} of {len(outcomes)} nodes failed:\n"
                                 + "\n".join(failed.values()))
        if skipped and len(skipped) == len(outcomes):
            pytest.skip("; ".join(dict.fromkeys(skipped.values())))
    return run


POD_NAMESPACE_FIXTURES = ("namespace", "module_namespace")


@pytest.hookimpl(hookwrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_pod_nodes(item, call):   # pytest reads only pytest_* names
    """A pod-level check's outcome goes to the per-node table under each node its
    pods ran on (node checks record theirs through every_node)."""
    outcome = yield
    rep = outcome.get_result()
    cluster = getattr(item, "funcargs", {}).get("cluster")
    if rep.when != "call" or not isinstance(cluster, ClusterUnderTest) or "every_node" in item.fixturenames:
        return
    namespaces = [item.funcargs[f] for f in POD_NAMESPACE_FIXTURES if f in item.funcargs]
    ran_on = cluster.kube.nodes_of_pods_in(namespaces) if namespaces else set()
    if ran_on:
        result = ("xfailed" if rep.skipped else "xpassed") if hasattr(rep, "wasxfail") else rep.outcome
        rep.user_properties.append(records.NodeOutcomes(dict.fromkeys(sorted(ran_on), result)).as_property())


@pytest.fixture
def record_measurement(request):
    """record_measurement(records.Latency(...)): a typed record (crigate.records)
    for the report, under this check's runtime; it reaches the controller under xdist."""
    def record(found: records.Record) -> None:
        request.node.user_properties.append(found.as_property())
    return record


@pytest.fixture
def namespace(cluster):
    """A fresh namespace for one test, deleted afterwards (waited for before
    a measurement and at the cluster's end: kube.settle)."""
    with cluster.kube.namespace(wait=False) as name:
        yield name


@pytest.fixture(scope="module")
def module_namespace(cluster):
    """A namespace shared by one suite module's tests on one runtime."""
    with cluster.kube.namespace(wait=False) as name:
        yield name


@pytest.hookimpl(trylast=True)     # after xdist has stopped its workers
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Delete clusters this process made (Ctrl-C, failed fixtures) and, on the
    controller, any left by crashed workers of this session; a signal that
    comes meanwhile waits for the deletes."""
    config = session.config
    settings = config.stash.get(SETTINGS, None)
    if settings is None:
        return
    with cancel.held_signals("deleting what this run made", reraise=False):
        delete_what_was_made(session, settings)


def delete_what_was_made(session: pytest.Session, settings: options.Settings) -> None:
    config = session.config
    left = []
    for provider in list(config.stash[PROVIDERS]):     # debug pods on existing clusters too
        try:
            provider.delete()                           # keeps a --keep-cluster test bed
        except providers.TeardownError as err:
            left.append(str(err))
    if not hasattr(config, "workerinput") and session.testscollected and not config.option.collectonly:
        try:
            providers.provider_for(settings).delete_leftovers(settings, config.stash[TOKEN])
        except providers.TeardownError as err:
            left.append(str(err))
    for what in left:                                   # never a silent leftover, never a green run
        print(f"crigate: left behind: {what}", file=sys.stderr)
    if left and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
