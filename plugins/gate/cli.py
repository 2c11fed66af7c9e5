"""crigate-gate: the upgrade gate in one command.

    crigate-gate [--kubeconfig PATH] [--context C] [--runtime containerd|cri-o]
                 [--node-checks] [--report-dir DIR] [-- PYTEST_ARGS...]

Runs `pytest -m gate --cluster=existing` on the gate suite and exits
0 GO, 1 NO-GO, 2 could not decide (unreachable API, missing permissions,
bad input), with the reason printed.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

import suites
from clusters.versions import RUNTIMES

GO, NO_GO, UNDECIDED = 0, 1, 2
RBAC = Path(__file__).with_name("clusterrole.yaml")
SUITE = Path(suites.__file__).with_name("test_gate.py")


def default_kubeconfig() -> str:
    return os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or str(Path.home() / ".kube/config")


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="crigate-gate", description="GO / NO-GO before moving a cluster's nodes off Docker "
        "(dockershim), e.g. before an EKS 1.24 upgrade. Exit 0 GO, 1 NO-GO, 2 could not decide.")
    parser.add_argument("--kubeconfig", default=default_kubeconfig(),
                        help="kubeconfig of the cluster (default: $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", help="kubeconfig context (default: the current one)")
    parser.add_argument("--runtime", default="containerd", choices=list(RUNTIMES),
                        help="runtime the nodes move to (default containerd, as EKS 1.24)")
    parser.add_argument("--node-checks", action="store_true",
                        help="also read node files through a short-lived privileged debug pod per node")
    parser.add_argument("--debug-image", help="image of that debug pod (nodes must be able to pull it)")
    parser.add_argument("--image-repo", help="registry prefix the nodes pull crigate's images from "
                        "(filled by `python -m clusters images push --registry REPO`); the debug "
                        "pod's image comes from there unless --debug-image is given")
    parser.add_argument("--report-dir", default="reports/gate",
                        help="where junit.xml, results.json, report.md and report.html go")
    parser.add_argument("--print-rbac", action="store_true",
                        help="print the least-privilege ClusterRole manifest and exit")
    return parser.parse_known_args(argv)


def pytest_args(args: argparse.Namespace, extra: list[str]) -> list[str]:
    argv = [str(SUITE), "-m", "gate", "--cluster=existing",
            f"--kubeconfig={args.kubeconfig}", f"--runtime={args.runtime}",
            f"--report-dir={args.report_dir}", "-p", "no:cacheprovider", "-q"]
    if args.context:
        argv.append(f"--context={args.context}")
    if args.node_checks:
        argv.append("--node-checks")
    if args.debug_image:
        argv.append(f"--debug-image={args.debug_image}")
    if args.image_repo:
        argv.append(f"--image-repo={args.image_repo}")
    return argv + [a for a in extra if a != "--"]


def main(argv: list[str] | None = None) -> int:
    args, extra = parse(sys.argv[1:] if argv is None else argv)
    if args.print_rbac:
        print(RBAC.read_text(), end="")
        return GO
    if not Path(args.kubeconfig).expanduser().is_file():
        print(f"crigate-gate: kubeconfig {args.kubeconfig} not found: pass --kubeconfig PATH or "
              "set KUBECONFIG (EKS: aws eks update-kubeconfig --name CLUSTER)", file=sys.stderr)
        return UNDECIDED
    code = int(pytest.main(pytest_args(args, extra)))
    if code in (GO, NO_GO, UNDECIDED):
        print(f"crigate-gate: {('GO', 'NO-GO', 'could not decide')[code]} "
              f"(report: {args.report_dir}/report.html)")
        return code
    print(f"crigate-gate: could not decide: pytest exited {code} "
          "(3 internal error, 4 usage error, 5 no gate checks collected)", file=sys.stderr)
    return UNDECIDED


if __name__ == "__main__":
    sys.exit(main())
