"""A cluster of thousands of fake nodes on one host: etcd and kube-apiserver from
the test bed's own builds, and the kwok controller (sigs.k8s.io/kwok) that keeps
the fake nodes Ready and runs the pods bound to them. No kubelet, scheduler or
controller-manager: the objects (ReplicaSets, pods bound to nodes) are written
as those would have written them (kwokload.py), so the API holds exactly what
was asked for.

kwok manages the nodes that carry the annotation `kwok.x-k8s.io/node=fake`
(its --manage-nodes-with-annotation-selector;
https://kwok.sigs.k8s.io/docs/user/kwok-manage-nodes-and-pods/)
and changes nodes and pods through Stages given in its config file when the Stage
CRD is not enabled (v0.8 pkg/kwok/cmd/root.go: "no stages found" otherwise).
The Stages below are crigate's own, on the model of kwok's kustomize/stage/node/fast
and kustomize/stage/pod/fast.

Everything lives in one work folder; stop() ends the processes it started and
removes the folder, so nothing is left behind.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import gobuild, images
from .ports import free_port
from .progress import step, stop
from .versions import KubernetesRelease, kubernetes_release

FAKE_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")     # what kwok manages (its docs, above)
# A taint kwok's docs put on fake nodes, so that nothing meant for real nodes lands there.
FAKE_NODE_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
# kwok renews each node's Lease at a fraction of this; 40 s (its default) would be
# 200 writes a second for 2,000 nodes with no node-lifecycle controller to read them.
NODE_LEASE_SECONDS = 3600
TOKEN = "crigate-kwok-admin"

KWOK_CONFIG = """\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageAllNodes: false
  manageNodesWithAnnotationSelector: "{annotation}"
  enableCRDs: []
  podPlayStageParallelism: 8
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 2
---
# Nodes: Ready, with the capacity and nodeInfo (runtime, kubelet versions) they were created with.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: crigate-node-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ["True"]
  next:
    statusTemplate: |
      {{{{ $now := Now }}}}
      conditions:
      - type: Ready
        status: "True"
        reason: KubeletReady
        message: kwok fake node
        lastHeartbeatTime: {{{{ $now | Quote }}}}
        lastTransitionTime: {{{{ $now | Quote }}}}
      addresses:
      - type: InternalIP
        address: {{{{ NodeIP | Quote }}}}
      - type: Hostname
        address: {{{{ NodeName | Quote }}}}
      allocatable: {{{{ YAML .status.allocatable 1 }}}}
      capacity: {{{{ YAML .status.capacity 1 }}}}
      nodeInfo: {{{{ YAML .status.nodeInfo 1 }}}}
      phase: Running
---
# Pods bound to a fake node: Running and Ready.
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: crigate-pod-running
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: ["Pending"]
  next:
    statusTemplate: |
      {{{{ $now := Now }}}}
      phase: Running
      hostIP: {{{{ NodeIPWith .spec.nodeName | Quote }}}}
      podIP: {{{{ PodIPWith .spec.nodeName false .metadata.uid .metadata.name .metadata.namespace | Quote }}}}
      startTime: {{{{ $now | Quote }}}}
      conditions:
      - type: Ready
        status: "True"
        lastTransitionTime: {{{{ $now | Quote }}}}
      containerStatuses:
      {{{{ range .spec.containers }}}}
      - name: {{{{ .name | Quote }}}}
        image: {{{{ .image | Quote }}}}
        ready: true
        restartCount: 0
        state:
          running:
            startedAt: {{{{ $now | Quote }}}}
      {{{{ end }}}}
---
# Pods being deleted: gone (no kubelet to confirm it).
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: crigate-pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: Exists
  next:
    delete: true
"""


@dataclass
class KwokCluster:
    workdir: Path
    kubeconfig: Path
    server: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self.processes.items()}

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of each process now (etcd, kube-apiserver, kwok)."""
        found = {}
        for name, proc in self.processes.items():
            try:
                for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        found[name] = int(line.split()[1]) / 1024
            except OSError:
                pass
        return found

    def stop(self, keep: bool = False) -> None:
        """End the processes this cluster started (newest first) and remove its folder."""
        for proc in reversed(list(self.processes.values())):
            stop(proc, timeout=30)
        self.processes.clear()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def binaries(release: KubernetesRelease) -> dict[str, Path]:
    """kube-apiserver and etcd as the test bed builds them (etcd at the version
    kubeadm names for the release), and kwok."""
    k8s = gobuild.build_kubernetes(release)
    etcd_ref = images.kubeadm_images(k8s / "kubeadm", release.version)["etcd"]
    etcd_version = "v" + etcd_ref.rsplit(":", 1)[1].split("-")[0]
    return {"kube-apiserver": k8s / "kube-apiserver", "etcd": gobuild.build_etcd(etcd_version) / "etcd",
            "kwok": gobuild.build_kwok() / "kwok"}


def _start(cluster: KwokCluster, name: str, cmd: list[str]) -> None:
    log = (cluster.workdir / f"{name}.log").open("w")
    cluster.processes[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, start_new_session=True)


def _wait_healthy(cluster: KwokCluster, name: str, url: str, timeout: float = 120) -> None:
    import ssl
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.processes[name].poll() is not None:
            raise RuntimeError(f"{name} exited {cluster.processes[name].returncode}; its log: "
                               f"{(cluster.workdir / f'{name}.log').read_text()[-2000:]}")
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
            with urllib.request.urlopen(request, timeout=5, context=context) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{name} not healthy at {url} after {timeout:.0f} s; its log: "
                       f"{cluster.workdir / f'{name}.log'}")


def kubeconfig_text(server: str, ca: Path | None = None) -> str:
    trust = f"certificate-authority: {ca}" if ca else "insecure-skip-tls-verify: true"
    return (f"apiVersion: v1\nkind: Config\nclusters:\n- name: kwok\n  cluster:\n    server: {server}\n"
            f"    {trust}\nusers:\n- name: admin\n  user:\n    token: {TOKEN}\n"
            "contexts:\n- name: kwok\n  context:\n    cluster: kwok\n    user: admin\n"
            "current-context: kwok\n")


def up(release: KubernetesRelease | None = None, workdir: Path | None = None) -> KwokCluster:
    """etcd, kube-apiserver and kwok on loopback, healthy; the caller stops it."""
    release = release or kubernetes_release(None)
    bins = binaries(release)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="crigate-kwok-"))
    (workdir / "pki").mkdir(parents=True, exist_ok=True)
    ports: list[int] = []
    while len(ports) < 4:               # four different ones (each pick is the kernel's, alone)
        port = free_port()
        ports += [port] if port not in ports else []
    etcd_port, peer_port, api_port, kwok_port = ports
    server = f"https://127.0.0.1:{api_port}"
    cluster = KwokCluster(workdir, workdir / "kubeconfig", server)
    try:
        with step(f"kwok cluster in {workdir}: etcd, kube-apiserver {release.version}, kwok"):
            subprocess.run(["openssl", "genrsa", "-out", str(workdir / "pki/sa.key"), "2048"],
                           check=True, capture_output=True)
            (workdir / "tokens.csv").write_text(f"{TOKEN},crigate-admin,crigate-admin,system:masters\n")
            cluster.kubeconfig.write_text(kubeconfig_text(server))
            (workdir / "kwok.yaml").write_text(KWOK_CONFIG.format(annotation="=".join(FAKE_NODE_ANNOTATION)))
            # --unsafe-no-fsync: a throw-away store; the bench measures the gate, not the disk
            _start(cluster, "etcd", [
                str(bins["etcd"]), "--data-dir", str(workdir / "etcd"), "--name", "kwok",
                "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
                "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                "--initial-cluster", f"kwok=http://127.0.0.1:{peer_port}",
                "--quota-backend-bytes", str(8 * 2**30), "--unsafe-no-fsync", "--log-level", "warn"])
            _start(cluster, "kube-apiserver", [
                str(bins["kube-apiserver"]), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
                f"--cert-dir={workdir / 'pki'}", f"--token-auth-file={workdir / 'tokens.csv'}",
                "--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
                "--service-account-issuer=https://kubernetes.default.svc",
                f"--service-account-key-file={workdir / 'pki/sa.key'}",
                f"--service-account-signing-key-file={workdir / 'pki/sa.key'}",
                # no controller-manager makes service accounts; no kubelet on loopback
                "--disable-admission-plugins=ServiceAccount", "--endpoint-reconciler-type=none",
                "--max-requests-inflight=800", "--max-mutating-requests-inflight=400"])
            _wait_healthy(cluster, "kube-apiserver", f"{server}/readyz")
            # kube-apiserver made its own serving certificate, its CA after it in the file
            cluster.kubeconfig.write_text(kubeconfig_text(server, workdir / "pki" / "apiserver.crt"))
            _start(cluster, "kwok", [
                str(bins["kwok"]), f"--config={workdir / 'kwok.yaml'}", f"--kubeconfig={cluster.kubeconfig}",
                f"--server-address=127.0.0.1:{kwok_port}", "--node-ip=127.0.0.1",
                f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}"])
            _wait_healthy(cluster, "kwok", f"http://127.0.0.1:{kwok_port}/healthz")
    except BaseException:
        cluster.stop(keep=bool(os.environ.get("CRIGATE_KEEP_KWOK")))
        raise
    return cluster
