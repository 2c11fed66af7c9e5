"""crigate-gate: the upgrade gate in one command.

    crigate-gate [--kubeconfig PATH] [--context C] [--runtime containerd|cri-o]
                 [--node-checks] [--output FORMAT] [--suppress SPEC]... [--suppress-file PATH]
    crigate-gate --context A --context B ... | --all-contexts      (a fleet, see fleet.py)
    crigate-gate --manifests PATH... [--namespace NS] [--output FORMAT]

Reads a cluster (or manifest files, offline) and decides through the gate's
engine (crigate.gate.engine), the one the gate suite (`pytest -m gate`) runs;
options carry the same names there. Prints the findings on stdout in the
chosen format (progress and logs go to stderr), writes results.json, report.md,
report.html and junit.xml into --report-dir, and exits with the verdict's code:
0 GO, 1 NO-GO, 2 could not decide (bad input, unreachable API, missing
permissions, Ctrl-C), 3 crigate's own error. A fleet (several contexts) gives
one verdict per cluster and exits with the fleet's (fleet.FLEET_ORDER).

Offline (--manifests) neither pytest nor the kubernetes client is loaded.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from crigate.testbed.versions import RUNTIMES, profile

from . import apiretry, engine, family, fleet, manifests, outputs, platform, suppress
from .audit import Audit, manifests_audit
from .verdict import OWN_ERROR as OWN_ERROR_WORDS
from .verdict import Kind, Verdict

GO = Kind.GO.exit_code
UNDECIDED = Kind.UNDECIDED.exit_code
OWN_ERROR = Kind.OWN_ERROR.exit_code
RBAC = Path(__file__).with_name("clusterrole.yaml")
DEFAULT_SUPPRESS_FILE = Path(".crigate-ignore")
STDIN_NAME = "<stdin>"
# Names of earlier releases: a hint instead of "unrecognized arguments".
RENAMED = {"--ignore": "--suppress", "--gate-ignore": "--suppress", "--ignore-file": "--suppress-file",
           "--gate-ignore-file": "--suppress-file", "--manifests-namespace": "--namespace"}


class InputError(ValueError):
    """Input the gate cannot decide on, in one line (exit 2)."""


def default_kubeconfig() -> str:
    return os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or str(Path.home() / ".kube/config")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crigate-gate", description="GO / NO-GO before moving a cluster's nodes off Docker "
        "(dockershim), e.g. before an EKS 1.24 upgrade. Exit 0 GO, 1 NO-GO, 2 could not decide, "
        "3 crigate's own error.")
    p.add_argument("--kubeconfig", default=default_kubeconfig(),
                   help="kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--context", action="append", dest="contexts", metavar="CONTEXT",
                   help="kubeconfig context (default: the current one); repeat it to audit a fleet: "
                   f"clusters read {fleet.PARALLEL} at a time, one verdict each, exit code the worst")
    p.add_argument("--all-contexts", action="store_true",
                   help="audit every context of the kubeconfig as a fleet")
    p.add_argument("--runtime", default="containerd", choices=list(RUNTIMES),
                   help="runtime the nodes move to (default containerd, as EKS 1.24)")
    p.add_argument("--manifests", nargs="+", action="extend", metavar="PATH",
                   help="audit manifest files instead of a cluster: files, directories, - for "
                   "stdin (multi-document YAML, List kinds, helm template / kustomize build "
                   "output); each finding names file and line")
    p.add_argument("--namespace", default="default",
                   help="with --manifests: namespace of objects that name none (default: default)")
    p.add_argument("--output", "-o", default="text", choices=outputs.FORMATS,
                   help=f"format of the findings on stdout (default text); json follows schema {outputs.SCHEMA}")
    p.add_argument("--suppress", action="append", default=[], metavar="CHECK[=GLOB][:REASON]",
                   help="suppress findings of CHECK on objects matching GLOB, with a reason; "
                   "shown as suppressed, not counted; repeatable")
    p.add_argument("--suppress-file", type=Path,
                   help=f"suppressions, one per line (default: {DEFAULT_SUPPRESS_FILE} when present)")
    p.add_argument("--platform", default="auto", choices=["auto", *platform.choices()],
                   help="the platform whose node images' own facts apply (docs/platforms.md); default "
                   "auto: detected from the nodes' providerID and labels (generic offline)")
    p.add_argument("--target-version", metavar="MINOR", type=target_version,
                   help="the Kubernetes minor the nodes run after the switch, where platform facts are "
                   "judged (default: the nodes' own, at least 1.24; offline: every version a fact holds for)")
    p.add_argument("--node-checks", action="store_true",
                   help="also read node files through a short-lived privileged debug pod per node")
    p.add_argument("--debug-image", help="image of that debug pod (nodes must be able to pull it)")
    p.add_argument("--image-repo", help="registry prefix the nodes pull crigate's images from "
                   "(filled by `python -m crigate.testbed images push --registry REPO`); the debug "
                   "pod's image comes from there unless --debug-image is given")
    p.add_argument("--api-retry-budget", type=seconds, default=apiretry.DEFAULT_BUDGET_S, metavar="SECONDS",
                   help=apiretry.BUDGET_HELP)
    p.add_argument("--api-timeout", type=seconds, default=apiretry.DEFAULT_TIMEOUT_S, metavar="SECONDS",
                   help=apiretry.TIMEOUT_HELP)
    p.add_argument("--report-dir", default="reports/gate",
                   help="where junit.xml, results.json, report.md and report.html go")
    p.add_argument("--print-rbac", action="store_true",
                   help="print the least-privilege ClusterRole manifest and exit")
    p.add_argument("--list-checks", action="store_true",
                   help="print every Docker coupling the gate knows (markdown table) and exit")
    return p


def seconds(value: str) -> float:
    """argparse type: a positive number of seconds."""
    try:
        number = float(value)
    except ValueError:
        number = -1
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return number


def target_version(value: str) -> str:
    """argparse type: a Kubernetes minor like 1.24 (v1.24.17 is read as 1.24)."""
    try:
        return platform.minor_text(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def say(message: str) -> None:
    print(f"crigate-gate: {message}", file=sys.stderr)


def suppressions(args: argparse.Namespace) -> list[suppress.Suppression]:
    path = args.suppress_file
    if path is None and DEFAULT_SUPPRESS_FILE.is_file():
        path = DEFAULT_SUPPRESS_FILE
        say(f"suppressions from {DEFAULT_SUPPRESS_FILE}")
    try:
        return suppress.given(args.suppress, path, set(family.known()))
    except suppress.SuppressionError as err:
        raise InputError(str(err)) from None


def offline_audit(args: argparse.Namespace) -> Audit:
    """The manifest files' audit; `-` is read from stdin as <stdin>."""
    skipped: list[str] = []
    try:
        objects = manifests.read_objects(args.manifests, skipped=skipped)
    except manifests.ManifestError as err:
        raise InputError(str(err)) from None
    audit = manifests_audit(objects, skipped, args.namespace)
    audit.platform, audit.target_version = args.platform, args.target_version or ""
    return audit


def cluster_verdict(args: argparse.Namespace, context: str | None, target: str, rules: list,
                    clusters: dict) -> Verdict:
    """Preflight, the inventory read (and --node-checks through a debug pod
    per Ready node), then the engine; the debug pods go, whatever happens.
    Everything it reads with is its own (Configuration, ApiClient, debug
    pods): clusters read one after another or side by side never share one."""
    import urllib3
    from crigate import nodehost, nodes, preflight
    from crigate.kube import Kube, PodFailed
    from crigate.providers import ExistingClusterProvider
    from kubernetes.client import ApiException

    from .audit import run_audit
    from .inventory import Unreachable, reading_client

    kubeconfig = Path(args.kubeconfig).expanduser()
    try:
        preflight.check(kubeconfig, context, retry_budget_s=args.api_retry_budget)
        repo = nodehost.image_repo(args.image_repo)
    except (preflight.PreflightError, ValueError) as err:
        raise InputError(str(err)) from None
    provider = ExistingClusterProvider(args.runtime, kubeconfig, context,
                                       debug_image=nodehost.debug_image(args.debug_image, repo),
                                       image_repo=repo)
    try:
        try:
            provider.create()
            kube = Kube(kubeconfig, context, image_repo=repo)
            hosts = ({n.metadata.name: provider.node_host(n.metadata.name)
                      for n in kube.nodes() if nodes.is_ready(n)} if args.node_checks else None)
        except (ApiException, urllib3.exceptions.HTTPError, PodFailed, nodehost.DebugPodError) as err:
            # the cluster or a node would not answer: the environment's fault, not crigate's
            reason = getattr(err, "reason", None) or err
            return engine.undecided(target, f"the cluster's nodes could not be reached: {reason}")
        clusters[context if args.fleet else args.runtime] = {"runtime": args.runtime, **provider.describe()}
        try:
            retrier = apiretry.Retrier(args.api_retry_budget, args.api_timeout)
            audit = run_audit(reading_client(kubeconfig, context), hosts, retrier)
            audit.platform, audit.target_version = args.platform, args.target_version or ""
        except Unreachable as err:
            return engine.undecided(target, str(err))
        return engine.decide(audit, target, rules)
    finally:
        provider.delete()


def fleet_contexts(args: argparse.Namespace) -> list[str]:
    """The contexts of a fleet run, in the order given (--all-contexts: the
    kubeconfig's order); [] for one cluster. Sets args.context and args.fleet."""
    given = list(dict.fromkeys(args.contexts or []))
    args.context, args.fleet = (given[0] if len(given) == 1 else None), False
    if args.all_contexts and given:
        raise InputError("--all-contexts audits every context of the kubeconfig; leave out --context")
    if args.manifests and (args.all_contexts or len(given) > 1):
        raise InputError("--manifests audits files, not clusters; leave out --all-contexts and --context")
    if args.all_contexts:
        from crigate import preflight
        try:
            given = preflight.contexts(Path(args.kubeconfig))
        except preflight.PreflightError as err:
            raise InputError(str(err)) from None
        if not given:
            raise InputError(f"kubeconfig {args.kubeconfig} holds no contexts to audit")
    args.fleet = args.all_contexts or len(given) > 1
    return given if args.fleet else []


def decide(args: argparse.Namespace, clusters: dict) -> Verdict | list[fleet.ClusterVerdict]:
    """One Verdict, or with a fleet one ClusterVerdict per context."""
    contexts = fleet_contexts(args)
    if args.node_checks and args.manifests:
        raise InputError("--node-checks reads nodes of a cluster; leave it out with --manifests")
    rules = suppressions(args)
    target = profile(args.runtime).migration_target
    if args.manifests:
        verdicts = [engine.decide(offline_audit(args), target, rules)]
    elif contexts:
        fleet_run = read_fleet(args, contexts, target, rules, clusters)
        verdicts = [c.verdict for c in fleet_run]
    else:
        verdicts = [cluster_verdict(args, args.context, target, rules, clusters)]
    for stale in suppress.unused([f for v in verdicts for f in v.findings], rules):
        say(f"suppression matched nothing (stale?): {stale.check}={stale.glob} ({stale.origin})")
    return fleet_run if contexts else verdicts[0]


def read_fleet(args: argparse.Namespace, contexts: list[str], target: str, rules: list,
               clusters: dict) -> list[fleet.ClusterVerdict]:
    """Each context's verdict; a cluster that cannot be read (no such context,
    unreachable, credentials refused) could not be decided, alone. With
    --node-checks each cluster gets its own debug pods."""
    def read_one(context: str) -> Verdict:
        try:
            return cluster_verdict(args, context, target, rules, clusters)
        except InputError as err:
            return engine.undecided(target, str(err))

    def progress(cluster: fleet.ClusterVerdict, n: int, total: int) -> None:
        say(f"read {n} of {total} clusters: {cluster.context}: {spoken(cluster.verdict.kind)}")

    say(f"auditing {len(contexts)} clusters, {fleet.PARALLEL} at a time: {', '.join(contexts)}")
    return fleet.read_fleet(contexts, read_one, target, progress)


def spoken(kind: Kind) -> str:
    """A verdict in the words of stderr."""
    return {Kind.UNDECIDED: "could not decide",
            Kind.OWN_ERROR: f"could not decide: {OWN_ERROR_WORDS}"}.get(kind, kind.word)


def source_of(args: argparse.Namespace, contexts: list[str] = ()) -> dict:
    if contexts:
        return {"kubeconfig": args.kubeconfig, "contexts": list(contexts)}
    if args.manifests:
        return {"manifests": [STDIN_NAME if m == "-" else m for m in args.manifests],
                "namespace": args.namespace}
    return {"kubeconfig": args.kubeconfig, "context": args.context}


def unknown_options(unknown: list[str]) -> str:
    names = [u.split("=", 1)[0] for u in unknown]
    hints = [f"{n} is now {RENAMED[n]}" for n in names if n in RENAMED]
    return (f"unknown argument(s) {' '.join(unknown)}" + (f" ({'; '.join(hints)})" if hints else "")
            + "; see crigate-gate --help")


def main(argv: list[str] | None = None) -> int:
    args, unknown = parser().parse_known_args(sys.argv[1:] if argv is None else argv)
    if unknown:
        say(unknown_options(unknown))
        return UNDECIDED
    if args.print_rbac:
        print(RBAC.read_text(), end="")
        return GO
    if args.list_checks:
        print(outputs.families_markdown(), end="")
        return GO
    report_dir, started, clusters = Path(args.report_dir), time.time(), {}
    (report_dir / "results.json").unlink(missing_ok=True)     # never an old run's verdict
    try:
        decided = decide(args, clusters)
        if args.fleet:
            doc = outputs.write_fleet_reports(report_dir, args.runtime, decided,
                                              source_of(args, [c.context for c in decided]), clusters, started)
            kind = fleet.fleet_kind(c.verdict.kind for c in decided)
        else:
            doc = outputs.write_reports(report_dir, args.runtime, decided, source_of(args), clusters, started)
            kind = decided.kind
    except InputError as err:
        say(str(err))
        return UNDECIDED
    except KeyboardInterrupt:
        say("could not decide: interrupted")
        return UNDECIDED
    except Exception as err:           # a bug of crigate's: say so, distinctly
        say(f"crigate's own error: {type(err).__name__}: {err}")
        return OWN_ERROR
    sys.stdout.write(outputs.render_as(args.output, doc))
    each = (": " + ", ".join(f"{c.context} {spoken(c.verdict.kind)}" for c in decided)) if args.fleet else ""
    say(f"{'fleet ' if args.fleet else ''}{spoken(kind)}{each} (report: {report_dir}/report.html)")
    return kind.exit_code


if __name__ == "__main__":
    sys.exit(main())
