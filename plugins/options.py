"""crigate's command-line options: one group, validated before anything starts."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pytest
from crigate.testbed.versions import (
    DEFAULT_KUBERNETES,
    KUBERNETES_MINORS,
    NODE_RUNTIMES,
    RUNTIMES,
    UnknownChoice,
    kubernetes_release,
    parse_runtimes,
)

from . import nodehost
from .gate import family, suppress
from .gate.apiretry import BUDGET_HELP, DEFAULT_BUDGET_S, DEFAULT_TIMEOUT_S, TIMEOUT_HELP
from .gate.platform import choices as platform_choices
from .gate.platform import minor_text as platform_minor_text
from .nodehost import DEBUG_IMAGE
from .nodereads import NODE_CONCURRENCY

CLUSTER_KINDS = ("kind", "existing")
DEFAULT_REPORT_DIR = Path("reports")
# Upstream SLO for stateless pods, image pull excluded (sig-scalability):
# p99 of pod start latency <= 5 s.
DEFAULT_LATENCY_SLO_S = 5.0


@dataclass(frozen=True)
class MeasurementSize:
    """How much the latency area measures per runtime. quick (the default)
    gives the SLO verdict and every figure on a small N in about a minute a
    runtime; full is the baseline's measurement (make baseline)."""
    size: str
    latency_pods: int        # one at a time, after a warm-up; the SLO's p99 is read from them
    latency_burst: int       # pods at once per round
    latency_burst_rounds: int
    cri_bench: int           # critest lifecycles per kind (pod sandbox, container); 0 skips
    evented_pleg: bool       # the same pods again with the kubelet's EventedPLEG on (2 restarts)
    oci_runtimes: bool = False   # the same pods with runc and with crun (RuntimeClass crun), alternated
    overridden: tuple[str, ...] = ()     # size options given on the command line instead of the preset's

    def as_dict(self) -> dict:
        return {**asdict(self), "overridden": list(self.overridden)}

    @classmethod
    def from_dict(cls, found: dict) -> MeasurementSize:
        return cls(**{**found, "overridden": tuple(found.get("overridden", ()))})

    @property
    def text(self) -> str:
        """In words, for the report's run table."""
        given = f" ({', '.join(self.overridden)} given)" if self.overridden else ""
        return (f"{self.size}{given}: {self.latency_pods} pods one at a time, burst {self.latency_burst} x "
                f"{self.latency_burst_rounds}, critest benchmark "
                + (f"{self.cri_bench}" if self.cri_bench else "off")
                + ", EventedPLEG " + ("on" if self.evented_pleg else "off")
                + ", crun vs runc " + ("on" if self.oci_runtimes else "off"))


# TESTBED-NOTES: N >= 20 pods one at a time for a p99 worth reading; both sizes keep 20 or more.
# 30 pods at once is what this 2-core machine starts in reasonable time (the 2018 benchmark: 105);
# 5 rounds give the burst ratios a bootstrap interval (performance.MIN_SAMPLES_FOR_CI).
MEASUREMENT_SIZES = {
    "quick": MeasurementSize("quick", latency_pods=20, latency_burst=5, latency_burst_rounds=1,
                             cri_bench=3, evented_pleg=False, oci_runtimes=False),
    "full": MeasurementSize("full", latency_pods=40, latency_burst=30, latency_burst_rounds=5,
                            cri_bench=20, evented_pleg=True, oci_runtimes=True),
}
DEFAULT_MEASURE = "quick"
SIZE_OPTIONS = ("latency_pods", "latency_burst", "latency_burst_rounds", "cri_bench", "evented_pleg",
                "oci_runtimes")


def measurement_size(measure: str, **given) -> MeasurementSize:
    """--measure's preset, with each size option given on the command line
    (not None) in its place, named in `overridden` where it differs."""
    if measure not in MEASUREMENT_SIZES:
        raise pytest.UsageError(f"--measure {measure!r}: valid: {', '.join(MEASUREMENT_SIZES)}")
    unknown = set(given) - set(SIZE_OPTIONS)
    assert not unknown, f"not a size option: {unknown}"
    preset = MEASUREMENT_SIZES[measure]
    changed = {k: v for k, v in given.items() if v is not None and v != getattr(preset, k)}
    return replace(preset, overridden=tuple("--" + k.replace("_", "-") for k in changed), **changed)


RATIO_SPEC = re.compile(r"^(?P<a>[a-z-]+)/(?P<b>[a-z-]+)(?::(?P<phase>[a-z_]+))?=(?P<limit>\d+(?:\.\d+)?)$")


# Options crigate reads from pytest-kind-ng's "kind" group instead of its own:
# --keep-cluster, --kubeconfig, --kind-bin, --kind-kubectl-bin, --kind-image.
KIND_PLUGIN = "pytest-kind-ng"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("crigate", "crigate: CRI runtime conformance")
    group.addoption("--runtime", action="append", default=[], metavar="NAME",
                    help=f"runtime to check: {', '.join(NODE_RUNTIMES)} or all (= "
                         f"{', '.join(RUNTIMES)}; docker is the Docker Engine baseline); "
                         "repeatable or comma-separated (default: containerd); auto (with "
                         "--cluster=existing): every runtime the cluster's Ready nodes report, "
                         "each checked on its own nodes")
    group.addoption("--k8s-version", default=DEFAULT_KUBERNETES, metavar="MINOR",
                    help=f"Kubernetes of the test bed: {', '.join(KUBERNETES_MINORS)} "
                         f"(default {DEFAULT_KUBERNETES})")
    group.addoption("--cluster", default="kind", metavar="KIND",
                    help="kind: create a kind cluster per runtime (default); existing: use the "
                         "cluster of --kubeconfig (pytest-kind's option)/--context, create nothing")
    group.addoption("--context", metavar="NAME", help="kubeconfig context to use")
    group.addoption("--nodes", metavar="SELECTOR",
                    help="check only the nodes this label selector picks (existing clusters), "
                         "e.g. eks.amazonaws.com/nodegroup=gpu-pool")
    group.addoption("--node-concurrency", type=int, default=NODE_CONCURRENCY, metavar="N",
                    help="nodes read at once by node checks (debug pods started and asked "
                         f"together; default {NODE_CONCURRENCY})")
    group.addoption("--debug-image", default=DEBUG_IMAGE, metavar="IMAGE",
                    help="image of the short-lived privileged pod used for node checks on an "
                         f"existing cluster; its nodes must be able to pull it (default {DEBUG_IMAGE})")
    group.addoption("--image-repo", metavar="REPO",
                    help="pull every image crigate deploys from REPO (HOST[:PORT][/PREFIX]): "
                         "crigate.local/NAME:TAG becomes REPO/NAME:TAG, the debug pod's image "
                         "too unless --debug-image is given; fill REPO with `python -m crigate.testbed "
                         "images push --registry REPO`")
    group.addoption("--print-rbac", action="store_true",
                    help="print the least-privilege ClusterRole a run on an existing cluster "
                         "needs (apply it, bind it to the identity of --kubeconfig) and exit")
    group.addoption("--node-checks", action="store_true",
                    help="gate: also read node files (daemon.json, runtime handlers, sockets) "
                         "through a short-lived privileged debug pod per node")
    group.addoption("--measure", default=DEFAULT_MEASURE, choices=tuple(MEASUREMENT_SIZES), metavar="SIZE",
                    help="how much the latency area measures per runtime: " + "; ".join(
                        s.text for s in MEASUREMENT_SIZES.values())
                    + f" (default {DEFAULT_MEASURE}); the size options below override it one by one")
    group.addoption("--latency-burst", type=int, metavar="N",
                    help="pods started at once per burst, per runtime: each pod's create->Ready, "
                         "the time until all are Ready, and what the node spent (default: --measure's)")
    group.addoption("--latency-burst-rounds", type=int, metavar="R",
                    help="bursts per runtime (default: --measure's); the node-cost ratios' "
                         "confidence intervals need 5 or more")
    group.addoption("--cri-bench", type=int, metavar="N",
                    help="critest's benchmark mode on test-bed nodes: N pod sandbox and N container "
                         "lifecycles, the runtime alone (default: --measure's; 0 skips it)")
    group.addoption("--evented-pleg", choices=("on", "off"), metavar="on|off",
                    help="measure pod start again with the kubelet's EventedPLEG on (test bed; two "
                         "kubelet restarts per runtime) (default: on with --measure=full, else off)")
    group.addoption("--oci-runtimes", choices=("on", "off"), metavar="on|off",
                    help="measure pod start with runc and with crun (RuntimeClass crun), pods "
                         "alternated, and critest's benchmark with each handler: crun/runc ratios "
                         "(default: on with --measure=full, else off)")
    group.addoption("--latency-max-ratio", action="append", default=[], metavar="A/B[:PHASE]=X",
                    help="fail the run when runtime A's median (pod_startup, or PHASE) is more than X "
                         "times runtime B's, beyond the 95%% bootstrap interval; repeatable, e.g. "
                         "containerd/docker=1.2 or cri-o/containerd:run_to_watch=1.5")
    group.addoption("--manifests", action="append", default=[], metavar="PATH",
                    help="gate: audit manifest files instead of a cluster (files, directories, - "
                         "for stdin; multi-document YAML, List kinds, helm template / kustomize "
                         "output); repeatable; runs only the gate area, creates nothing")
    # The gate's options carry the same names in crigate-gate (plugins/gate/cli.py).
    group.addoption("--namespace", default="default", metavar="NS",
                    help="gate: namespace of manifest objects that name none (default: default)")
    group.addoption("--suppress", action="append", default=[], metavar="CHECK[=GLOB][:REASON]",
                    help="gate: suppress findings of CHECK (on objects matching GLOB), with a "
                         "reason; shown as suppressed, not counted toward the verdict; repeatable")
    group.addoption("--suppress-file", type=Path, metavar="PATH",
                    help="gate: suppressions, one CHECK[=GLOB][:REASON] per line (# comments)")
    group.addoption("--platform", default="auto", choices=["auto", *platform_choices()],
                    help="gate: the platform whose node images' own facts apply (docs/platforms.md); "
                         "default auto: detected from the nodes' providerID and labels (generic offline)")
    group.addoption("--target-version", metavar="MINOR", default="",
                    help="gate: the Kubernetes minor the nodes run after the switch, where platform facts "
                         "are judged (default: the nodes' own, at least 1.24)")
    group.addoption("--api-retry-budget", type=float, default=DEFAULT_BUDGET_S, metavar="SECONDS",
                    help=f"gate: {BUDGET_HELP}")
    group.addoption("--api-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                    help=f"gate: {TIMEOUT_HELP}")
    group.addoption("--node-image", action="append", default=[], metavar="RUNTIME=IMAGE",
                    help="node image for a runtime instead of the test bed's (repeatable)")
    group.addoption("--report-dir", type=Path, default=DEFAULT_REPORT_DIR, metavar="DIR",
                    help="write junit.xml, results.json, report.md, report.html here "
                         f"(default {DEFAULT_REPORT_DIR}/)")
    group.addoption("--latency-pods", type=int, metavar="N",
                    help="pods measured one at a time per runtime for start latency (default: "
                         "--measure's)")
    group.addoption("--latency-slo", type=float, default=DEFAULT_LATENCY_SLO_S, metavar="SECONDS",
                    help=f"p99 pod start latency that passes (default {DEFAULT_LATENCY_SLO_S})")


@dataclass(frozen=True)
class Settings:
    runtimes: tuple[str, ...]
    k8s_minor: str
    cluster: str
    kubeconfig: Path | None
    context: str | None
    keep_cluster: bool
    kind_bin: Path | None
    kubectl_bin: Path | None = None
    node_images: dict[str, str] = field(default_factory=dict)
    debug_image: str = DEBUG_IMAGE
    image_repo: str | None = None
    node_selector: str | None = None
    runtimes_from_nodes: bool = False    # --runtime auto: each runtime on the nodes that run it
    node_checks: bool = False
    node_concurrency: int = NODE_CONCURRENCY
    report_dir: Path = DEFAULT_REPORT_DIR
    latency_slo: float = DEFAULT_LATENCY_SLO_S
    measurement: MeasurementSize = MEASUREMENT_SIZES[DEFAULT_MEASURE]    # --measure and the size options
    max_ratios: tuple = ()                   # RatioLimit: --latency-max-ratio
    manifests: tuple[str, ...] = ()          # gate on files, no cluster
    manifests_namespace: str = "default"
    suppressions: tuple = ()                 # gate.suppress.Suppression, --suppress(-file)
    platform: str = "auto"                   # gate: --platform (eks, gke, aks, generic, auto)
    target_version: str = ""                 # gate: --target-version (a Kubernetes minor)
    api_retry_budget: float = DEFAULT_BUDGET_S   # gate: --api-retry-budget (seconds)
    api_timeout: float = DEFAULT_TIMEOUT_S       # gate: --api-timeout (seconds)


AUTO = "auto"     # --runtime auto: the runtimes the nodes report


def _runtimes(values: list[str]) -> tuple[str, ...]:
    if AUTO in ",".join(values).split(","):
        if values != [AUTO]:
            raise pytest.UsageError("--runtime auto reads the runtimes from the nodes; give it alone")
        return (AUTO,)
    try:
        return tuple(parse_runtimes(values or ["containerd"]))
    except UnknownChoice as bad:
        raise pytest.UsageError(f"--runtime {str(bad)!r} is not a runtime crigate knows; valid: "
                                f"{', '.join(NODE_RUNTIMES)}, all") from None


def _node_images(values: list[str]) -> dict[str, str]:
    images = {}
    for value in values:
        runtime, sep, image = value.partition("=")
        if not sep or runtime not in NODE_RUNTIMES or not image:
            raise pytest.UsageError(f"--node-image {value!r}: expected RUNTIME=IMAGE with RUNTIME "
                                    f"one of {', '.join(NODE_RUNTIMES)}")
        images[runtime] = image
    return images


def _node_concurrency(value: int) -> int:
    if value < 1:
        raise pytest.UsageError(f"--node-concurrency {value}: expected 1 or more nodes at once")
    return value


def _existing_file(option: str, value) -> Path | None:
    path = Path(value).expanduser() if value else None
    if path and not path.is_file():
        raise pytest.UsageError(f"{option} {path}: no such file")
    return path


def _image_repo(value: str | None) -> str | None:
    try:
        return nodehost.image_repo(value)
    except ValueError as err:
        raise pytest.UsageError(str(err)) from None


@dataclass(frozen=True)
class RatioLimit:
    """--latency-max-ratio A/B[:PHASE]=X"""
    a: str
    b: str
    phase: str
    limit: float

    @property
    def label(self) -> str:
        return f"{self.a}/{self.b}:{self.phase}<={self.limit:g}"


def _ratio_limits(specs: list[str]) -> tuple[RatioLimit, ...]:
    from . import phases
    limits = []
    for spec in specs:
        found = RATIO_SPEC.match(spec.strip())
        if not found:
            raise pytest.UsageError(f"--latency-max-ratio {spec!r}: expected A/B[:PHASE]=X, e.g. "
                                    "containerd/docker=1.2 or cri-o/containerd:run_to_watch=1.5")
        phase = found["phase"] or "pod_startup"
        bad = [r for r in (found["a"], found["b"]) if r not in NODE_RUNTIMES]
        if bad or phase not in phases.PHASES:
            raise pytest.UsageError(f"--latency-max-ratio {spec!r}: runtimes are "
                                    f"{', '.join(NODE_RUNTIMES)}; phases {', '.join(phases.PHASES)}")
        limits.append(RatioLimit(found["a"], found["b"], phase, float(found["limit"])))
    return tuple(limits)


def _target_version(value: str) -> str:
    if not value:
        return ""
    try:
        return platform_minor_text(value)
    except ValueError as err:
        raise pytest.UsageError(f"--target-version: {err}") from None


def _seconds(name: str, value: float) -> float:
    if not value > 0:
        raise pytest.UsageError(f"{name} {value:g}: expected a positive number of seconds")
    return value


def _suppressions(specs: list[str], path: Path | None) -> tuple:
    try:
        return tuple(suppress.given(specs, path, set(family.known())))
    except suppress.SuppressionError as err:
        raise pytest.UsageError(str(err)) from None


def _measurement(opt) -> MeasurementSize:
    """--measure, then each size option given in its place, checked."""
    evented, oci = opt("evented_pleg"), opt("oci_runtimes")
    size = measurement_size(opt("measure"), latency_pods=opt("latency_pods"),
                            latency_burst=opt("latency_burst"), latency_burst_rounds=opt("latency_burst_rounds"),
                            cri_bench=opt("cri_bench"), evented_pleg=None if evented is None else evented == "on",
                            oci_runtimes=None if oci is None else oci == "on")
    if size.latency_pods < 2:
        raise pytest.UsageError(f"--latency-pods {size.latency_pods}: need at least 2")
    if size.latency_burst < 1 or size.latency_burst_rounds < 1 or size.cri_bench < 0:
        raise pytest.UsageError("--latency-burst and --latency-burst-rounds need at least 1, "
                                "--cri-bench 0 or more")
    return size


def settings_from(config: pytest.Config) -> Settings:
    """Validate every crigate option; raise pytest.UsageError naming the valid values."""
    if not config.pluginmanager.hasplugin(KIND_PLUGIN):
        raise pytest.UsageError(f"crigate needs the {KIND_PLUGIN} plugin (its --kubeconfig, --keep-cluster, "
                                "--kind-bin); it is not loaded: install crigate's dependencies, or "
                                "add `-p pytest_kind.plugin` when plugin autoloading is off")
    opt = config.getoption
    try:
        minor = kubernetes_release(opt("k8s_version")).minor
    except UnknownChoice as err:
        raise pytest.UsageError(f"--k8s-version: {err}") from None
    if opt("cluster") not in CLUSTER_KINDS:
        raise pytest.UsageError(f"--cluster {opt('cluster')!r}: valid: {', '.join(CLUSTER_KINDS)}")
    kubeconfig = Path(opt("kubeconfig")).expanduser() if opt("kubeconfig") else None
    if opt("cluster") == "existing":
        if kubeconfig is None:
            raise pytest.UsageError("--cluster=existing needs --kubeconfig PATH (and optionally --context)")
        if not kubeconfig.is_file():
            raise pytest.UsageError(f"--kubeconfig {kubeconfig}: no such file")
    measurement = _measurement(opt)
    if opt("latency_slo") <= 0:
        raise pytest.UsageError(f"--latency-slo {opt('latency_slo')}: must be a positive number of seconds")
    runtimes = _runtimes(opt("runtime"))
    if runtimes == (AUTO,) and opt("cluster") != "existing":
        raise pytest.UsageError("--runtime auto reads the runtimes from the nodes of an existing "
                                "cluster (--cluster=existing --kubeconfig PATH); the test bed builds "
                                "one cluster per named runtime: --runtime containerd,cri-o")
    if opt("nodes") and opt("cluster") != "existing":
        raise pytest.UsageError("--nodes selects nodes of an existing cluster (--cluster=existing)")
    image_repo = _image_repo(opt("image_repo"))
    debug_image = nodehost.debug_image(opt("debug_image"), image_repo)
    node_images = _node_images(opt("node_image"))
    if opt("kind_image"):
        if len(runtimes) != 1:
            raise pytest.UsageError(f"--kind-image names one node image, for one runtime; with "
                                    f"{', '.join(runtimes)} use --node-image RUNTIME=IMAGE per runtime")
        node_images.setdefault(runtimes[0], opt("kind_image"))
    manifests = tuple(opt("manifests"))
    if "-" in manifests:
        raise pytest.UsageError("--manifests -: pytest keeps stdin to itself; pipe into "
                                "`crigate-gate --manifests -`, or give a file")
    if manifests and (opt("cluster") != "kind" or runtimes == (AUTO,)):
        raise pytest.UsageError("--manifests audits files, not a cluster: leave out --cluster "
                                "and --runtime auto (name the runtime the nodes move to)")
    return Settings(
        measurement=measurement, max_ratios=_ratio_limits(opt("latency_max_ratio")),
        manifests=manifests, manifests_namespace=opt("namespace"),
        suppressions=_suppressions(opt("suppress"), opt("suppress_file")), platform=opt("platform"),
        target_version=_target_version(opt("target_version")),
        api_retry_budget=_seconds("--api-retry-budget", opt("api_retry_budget")),
        api_timeout=_seconds("--api-timeout", opt("api_timeout")),
        runtimes=runtimes, k8s_minor=minor, cluster=opt("cluster"),
        kubeconfig=kubeconfig, context=opt("context"), keep_cluster=opt("keep_cluster"),
        kind_bin=_existing_file("--kind-bin", opt("kind_bin")),
        kubectl_bin=_existing_file("--kind-kubectl-bin", opt("kind_kubectl_bin")),
        node_images=node_images,
        debug_image=debug_image, image_repo=image_repo, node_selector=opt("nodes"),
        node_checks=opt("node_checks"), node_concurrency=_node_concurrency(opt("node_concurrency")),
        report_dir=opt("report_dir"), latency_slo=opt("latency_slo"))
