"""crigate-gate: the upgrade gate in one command.

    crigate-gate [--kubeconfig PATH] [--context C] [--runtime containerd|cri-o]
                 [--node-checks] [--output FORMAT] [--ignore SPEC]... [-- PYTEST_ARGS...]
    crigate-gate --manifests PATH... [--namespace NS] [--output FORMAT]

Runs the gate suite (`pytest -m gate`) on a cluster, or offline on manifest
files, prints the findings on stdout in the chosen format (progress and logs
go to stderr) and exits 0 GO, 1 NO-GO, 2 could not decide (bad input,
unreachable API, missing permissions), 3 crigate's own error.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

import suites
from crigate.testbed.versions import RUNTIMES
from crigate import preflight

from . import outputs, suppress
from .findings import Finding

FINDING_FIELDS = tuple(Finding.__dataclass_fields__)
OWN_ERROR_REASON = "crigate's own error"       # how suites/test_gate.py names a rule that crashed
GO, NO_GO, UNDECIDED, OWN_ERROR = 0, 1, 2, 3
EXIT_OF_VERDICT = {"GO": GO, "NO-GO": NO_GO, "UNDECIDED": UNDECIDED}
RBAC = Path(__file__).with_name("clusterrole.yaml")
SUITE = Path(suites.__file__).with_name("test_gate.py")
DEFAULT_IGNORE_FILE = Path(".crigate-ignore")
STDIN_NAME = "<stdin>"


def default_kubeconfig() -> str:
    return os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or str(Path.home() / ".kube/config")


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="crigate-gate", description="GO / NO-GO before moving a cluster's nodes off Docker "
        "(dockershim), e.g. before an EKS 1.24 upgrade. Exit 0 GO, 1 NO-GO, 2 could not decide, "
        "3 crigate's own error.")
    parser.add_argument("--kubeconfig", default=default_kubeconfig(),
                        help="kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--runtime", default="containerd", choices=list(RUNTIMES),
                        help="runtime the nodes move to (default containerd, as EKS 1.24)")
    parser.add_argument("--manifests", nargs="+", metavar="PATH",
                        help="audit manifest files instead of a cluster: files, directories, - for "
                        "stdin (multi-document YAML, List kinds, helm template / kustomize build "
                        "output); each finding names file and line")
    parser.add_argument("--namespace", default="default",
                        help="with --manifests: namespace of objects that name none (default: default)")
    parser.add_argument("--output", "-o", default="text", choices=outputs.FORMATS,
                        help="format of the findings on stdout (default text); json follows "
                        f"schema {outputs.SCHEMA}")
    parser.add_argument("--ignore", action="append", default=[], metavar="CHECK[=GLOB][:REASON]",
                        help="suppress findings of CHECK on objects matching GLOB, with a reason; "
                        "shown as suppressed, not counted; repeatable")
    parser.add_argument("--ignore-file", type=Path,
                        help=f"suppressions, one per line (default: {DEFAULT_IGNORE_FILE} when present)")
    parser.add_argument("--node-checks", action="store_true",
                        help="also read node files through a short-lived privileged debug pod per node")
    parser.add_argument("--debug-image", help="image of that debug pod (nodes must be able to pull it)")
    parser.add_argument("--image-repo", help="registry prefix the nodes pull crigate's images from "
                        "(filled by `python -m crigate.testbed images push --registry REPO`); the debug "
                        "pod's image comes from there unless --debug-image is given")
    parser.add_argument("--report-dir", default="reports/gate",
                        help="where junit.xml, results.json, report.md and report.html go")
    parser.add_argument("--print-rbac", action="store_true",
                        help="print the least-privilege ClusterRole manifest and exit")
    parser.add_argument("--list-checks", action="store_true",
                        help="print every Docker coupling the gate knows (markdown table) and exit")
    return parser.parse_known_args(argv)


def pytest_args(args: argparse.Namespace, extra: list[str], manifests: list[str]) -> list[str]:
    argv = [str(SUITE), "-m", "gate", f"--runtime={args.runtime}",
            f"--report-dir={args.report_dir}", "-p", "no:cacheprovider", "-q",
            "-W", "ignore::pytest.PytestAssertRewriteWarning"]     # this module imported suites/
    if manifests:
        argv += [f"--manifests={m}" for m in manifests] + [f"--manifests-namespace={args.namespace}"]
    else:
        argv += ["--cluster=existing", f"--kubeconfig={args.kubeconfig}"]
        argv += [f"--context={args.context}"] if args.context else []
    argv += ["--node-checks"] if args.node_checks else []
    argv += [f"--debug-image={args.debug_image}"] if args.debug_image else []
    argv += [f"--image-repo={args.image_repo}"] if args.image_repo else []
    argv += [f"--gate-ignore={spec}" for spec in args.ignore]
    argv += [f"--gate-ignore-file={args.ignore_file}"] if args.ignore_file else []
    return argv + [a for a in extra if a != "--"]


def say(message: str) -> None:
    print(f"crigate-gate: {message}", file=sys.stderr)


def check_input(args: argparse.Namespace) -> str | None:
    """What is wrong with the input, in one line, or None."""
    if args.node_checks and args.manifests:
        return "--node-checks reads nodes of a cluster; leave it out with --manifests"
    try:
        given = [suppress.parse(spec) for spec in args.ignore]
        given += suppress.read_file(args.ignore_file) if args.ignore_file else []
    except suppress.SuppressionError as err:
        return str(err)
    args.suppressions = given              # parsed once; pytest gets the specs, stale ones are told after
    unknown = suppress.unknown_checks(given, set(outputs.families()))
    if unknown:
        return (f"{unknown[0].origin}: no check {unknown[0].check!r} (crigate-gate --list-checks "
                "names them all)")
    if args.manifests:
        return None
    try:
        preflight.check(Path(args.kubeconfig), args.context)
    except preflight.PreflightError as err:
        return str(err)
    return None


def stdin_to_file(manifests: list[str], folder: Path) -> tuple[list[str], str | None]:
    """pytest cannot read stdin: `-` becomes a file, named back to <stdin> later."""
    if "-" not in manifests:
        return manifests, None
    path = folder / "stdin.yaml"
    path.write_text(sys.stdin.read())
    return [str(path) if m == "-" else m for m in manifests], str(path)


def gate_of(report_dir: Path, runtime: str) -> dict | None:
    results = report_dir / "results.json"
    if not results.exists():
        return None
    return json.loads(results.read_text()).get("gate", {}).get(runtime)


def run(args: argparse.Namespace, extra: list[str]) -> int:
    if args.ignore_file is None and DEFAULT_IGNORE_FILE.is_file():
        args.ignore_file = DEFAULT_IGNORE_FILE
        say(f"suppressions from {DEFAULT_IGNORE_FILE}")
    problem = check_input(args)
    if problem:
        say(problem)
        return UNDECIDED
    (Path(args.report_dir) / "results.json").unlink(missing_ok=True)     # never an old run's verdict
    with tempfile.TemporaryDirectory(prefix="crigate-gate-") as folder:
        manifests, stdin_file = stdin_to_file(args.manifests or [], Path(folder))
        with contextlib.redirect_stdout(sys.stderr):          # stdout holds only the findings
            code = int(pytest.main(pytest_args(args, extra, manifests)))
        gate = gate_of(Path(args.report_dir), args.runtime)
    if code == 4:
        say("could not decide: bad input (see the usage error above)")
        return UNDECIDED
    if code == 2 and gate is None:               # pytest's own 2: interrupted (Ctrl-C)
        say("could not decide: interrupted before the audit finished")
        return UNDECIDED
    if gate is None or code not in (GO, NO_GO, UNDECIDED):
        say(f"crigate's own error: pytest exited {code} (3 internal error, 5 no gate checks "
            "collected); please report it with the output above")
        return OWN_ERROR
    if stdin_file:
        for f in gate["findings"]:
            f["location"] = f.get("location", "").replace(stdin_file, STDIN_NAME)
    source = ({"manifests": [STDIN_NAME if m == "-" else m for m in args.manifests],
               "namespace": args.namespace} if args.manifests
              else {"kubeconfig": args.kubeconfig, "context": args.context})
    doc = outputs.gate_document(gate, source)
    sys.stdout.write(outputs.render_as(args.output, doc))
    for stale in stale_suppressions(args, doc):
        say(f"suppression matched nothing (stale?): {stale.check}={stale.glob} ({stale.origin})")
    say(f"{doc['verdict'].replace('UNDECIDED', 'could not decide')} "
        f"(report: {args.report_dir}/report.html)")
    if doc["verdict"] == "UNDECIDED" and any(r.startswith(OWN_ERROR_REASON) for r in doc["undecided"]):
        return OWN_ERROR
    return EXIT_OF_VERDICT[doc["verdict"]]


def stale_suppressions(args: argparse.Namespace, doc: dict) -> list:
    findings = [Finding(**{k: f.get(k, "") for k in FINDING_FIELDS}) for f in doc["findings"]]
    return suppress.unused(findings, args.suppressions)


def main(argv: list[str] | None = None) -> int:
    args, extra = parse(sys.argv[1:] if argv is None else argv)
    if args.print_rbac:
        print(RBAC.read_text(), end="")
        return GO
    if args.list_checks:
        print(outputs.families_markdown(), end="")
        return GO
    try:
        return run(args, extra)
    except KeyboardInterrupt:
        say("could not decide: interrupted")
        return UNDECIDED
    except Exception as err:           # a bug of crigate's: say so, distinctly
        say(f"crigate's own error: {type(err).__name__}: {err}")
        return OWN_ERROR


if __name__ == "__main__":
    sys.exit(main())
