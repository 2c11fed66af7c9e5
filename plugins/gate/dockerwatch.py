"""Settings that look at Docker Engine itself rather than at containers:
by what they name, whatever the product.

- containerd's `moby` namespace: Docker Engine keeps its containers in
  containerd under the namespace `moby`; the kubelet's CRI containers live in
  `k8s.io`. A program told to read containerd's `moby` namespace
  (`namespace: moby`, `ctr -n moby`, `CONTAINERD_NAMESPACE=moby`) sees Docker's
  containers on a Docker node and none on a CRI node (containerd's namespaces:
  https://github.com/containerd/containerd/blob/main/docs/namespaces.md;
  Docker's: https://docs.docker.com/engine/daemon/alternative-runtimes/).
- Docker the daemon as a thing to watch: a health check of component docker
  (for review: on a CRI node it checks, and may restart, a daemon that is not
  there), and Docker's journald log-driver fields as the source of container
  logs (CONTAINER_ID_FULL; CONTAINER_NAME matched on dockershim's `k8s_`
  names: breaks, a CRI runtime writes no container logs to the journal)
  (journald driver fields: https://docs.docker.com/engine/logging/drivers/journald/;
  dockershim's names: pkg/kubelet/dockershim/naming.go in kubernetes 1.23).
"""
from __future__ import annotations

import re

from .endpoints import line_of
from .family import family
from .findings import REVIEW, Finding
from .inventory import Inventory
from .podtext import container_texts
from .rules import containers, cri_tools, where

K8S_NAMESPACE = re.compile(r"(?<![\w.-])k8s\.io(?![\w./-])")     # the kubelet's containerd namespace
MOBY_NAMESPACE = re.compile(
    r"(?i)(?:namespace[\"']?[ \t]*[:=][ \t]*[\"']?|(?:^|\s)(?:-n|--namespace)[ =]|CONTAINERD_NAMESPACE=)moby\b")
# a health check of the Docker daemon (node-problem-detector's health-checker
# --component=docker, which can restart it); a journal input filtered on
# docker.service only loses the Docker daemon's own log lines, which a CRI node
# does not have to lose (EKS's Container Insights configs read it beside kubelet's)
WATCHES_DOCKER = re.compile(r"(?i)--component[= ]docker\b")
JOURNALD_DRIVER = re.compile(r"\bCONTAINER_ID_FULL\b|\bCONTAINER_NAME[ \t]*=[ \t]*[\"']?k8s_")
SIGNS = (("containerd-moby-namespace", "", MOBY_NAMESPACE),
         ("docker-daemon-watched", "journald-driver", JOURNALD_DRIVER),
         ("docker-daemon-watched", "", WATCHES_DOCKER))


def find(inventory: Inventory, runtime: str) -> list[Finding]:
    findings = []
    for t, c in containers(inventory):
        texts = container_texts(t, c, inventory)
        said = set()
        for check, case, pattern in SIGNS:
            hit = next(((text, m) for text in texts if (m := pattern.search(text.code))), None)
            if hit and check not in said:
                said.add(check)
                text, m = hit
                both = check == "containerd-moby-namespace" and any(K8S_NAMESPACE.search(x.code) for x in texts)
                findings.append(family(check).finding(
                    where(t, c), f"{text.chain(line_of(text.code, m.start()))} says {m.group(0).strip()}"
                    + ("; it names k8s.io too" if both else ""),
                    case=case, severity=REVIEW if both else "", cri_tools=cri_tools(runtime)))
    return findings
