"""Fill a cluster of kwok fake nodes (kwokcluster.py) with what a big cluster
mid-way through leaving Docker holds: node groups whose nodes report different
runtimes, Deployments with their ReplicaSets and pods, DaemonSets with a pod on
every node, bare pods, ConfigMaps, and the corpus' Docker couplings once
(tests/corpus/coupled), so the gate's verdict is NO-GO for known reasons.

Objects are written as the controllers would have written them (ReplicaSets
owned by their Deployment, pods owned by their ReplicaSet or DaemonSet and
bound to a node), by a few threads over a few connections.
"""
from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from crigate.facts import DOCKER_CONTAINER_LOGS, DOCKER_SOCKET
from kubernetes import client

from .kwokcluster import FAKE_NODE_ANNOTATION, FAKE_NODE_TAINT


@dataclass(frozen=True)
class Size:
    nodes: int
    pods: int
    config_maps: int

    @property
    def namespaces(self) -> int:
        return max(3, self.nodes // 10)

    def scaled(self, factor: float) -> Size:
        return Size(max(3, round(self.nodes * factor)), max(10, round(self.pods * factor)),
                    max(3, round(self.config_maps * factor)))


FULL = Size(nodes=2000, pods=50_000, config_maps=20_000)      # crigate issue 21


@dataclass(frozen=True)
class NodeGroup:
    label: str              # the label that names the group (crigate.nodes.NODE_GROUP_LABELS)
    name: str
    runtime_version: str    # status.nodeInfo.containerRuntimeVersion
    kubelet_version: str
    share: float            # of the nodes


# A fleet half-way through: Docker nodes left, containerd 1.6/1.7/2.x, CRI-O.
NODE_GROUPS = (
    NodeGroup("eks.amazonaws.com/nodegroup", "legacy-docker", "docker://20.10.25", "v1.23.17", 0.10),
    NodeGroup("eks.amazonaws.com/nodegroup", "general-cd16", "containerd://1.6.33", "v1.24.17", 0.25),
    NodeGroup("eks.amazonaws.com/nodegroup", "general-cd17", "containerd://1.7.27", "v1.24.17", 0.30),
    NodeGroup("karpenter.sh/nodepool", "spot-cd2", "containerd://2.1.4", "v1.24.17", 0.20),
    NodeGroup("eks.amazonaws.com/nodegroup", "batch-crio", "cri-o://1.33.2", "v1.24.17", 0.15),
)
DAEMONSETS = 2           # node-exporter (clean) and a log agent reading Docker's log files (coupled)
BARE_POD_SHARE = 0.05    # pods with no owner; one in BARE_COUPLED_EVERY mounts docker.sock
BARE_COUPLED_EVERY = 50
REPLICAS = (1, 2, 3, 5, 8, 12, 20)   # per Deployment, in turn
WORKERS = 8
TOLERATE_FAKE = [{"key": FAKE_NODE_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}]
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "coupled"
PATHS = {"ConfigMap": "/api/v1/namespaces/{ns}/configmaps", "Pod": "/api/v1/namespaces/{ns}/pods",
         "PodTemplate": "/api/v1/namespaces/{ns}/podtemplates",
         "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
         "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
         "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
         "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets",
         "Job": "/apis/batch/v1/namespaces/{ns}/jobs", "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs"}


class Writer:
    """POSTs JSON through one ApiClient from a few threads; counts what it wrote."""

    def __init__(self, api_client: client.ApiClient, workers: int = WORKERS):
        self.api, self.workers, self.written = api_client, workers, 0

    def post(self, path: str, body: dict) -> dict:
        method, url, headers, data, _ = self.api.param_serialize(
            "POST", path, body=body,
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            auth_settings=["BearerToken"])
        response = self.api.call_api(method, url, header_params=headers, body=data)
        response.read()
        if response.status >= 400:
            raise client.ApiException(http_resp=response)
        self.written += 1
        return json.loads(response.data)

    def post_all(self, items: Iterable[tuple[str, dict]]) -> list[dict]:
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(lambda item: self.post(*item), items))


def ns_path(kind: str, namespace: str) -> str:
    return PATHS[kind].format(ns=namespace)


def owner(kind: str, obj: dict, api_version: str = "apps/v1") -> list[dict]:
    return [{"apiVersion": api_version, "kind": kind, "name": obj["metadata"]["name"],
             "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]


def node(name: str, group: NodeGroup) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "annotations": dict([FAKE_NODE_ANNOTATION]),
                         "labels": {group.label: group.name, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name,
                                    "node.kubernetes.io/instance-type": "m5.2xlarge", "type": "kwok"}},
            "spec": {"taints": [FAKE_NODE_TAINT], "providerID": f"aws:///eu-west-1a/i-{zlib.crc32(name.encode()):017x}"},
            "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                       "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                       "nodeInfo": {"containerRuntimeVersion": group.runtime_version,
                                    "kubeletVersion": group.kubelet_version,
                                    "kubeProxyVersion": group.kubelet_version, "operatingSystem": "linux",
                                    "architecture": "amd64", "osImage": "Amazon Linux 2",
                                    "kernelVersion": "5.10.0", "machineID": "", "systemUUID": "",
                                    "bootID": ""}}}


def nodes_in_groups(size: Size) -> list[tuple[str, NodeGroup]]:
    made, start = [], 0
    for i, group in enumerate(NODE_GROUPS):
        count = size.nodes - start if i == len(NODE_GROUPS) - 1 else round(size.nodes * group.share)
        made += [(f"kwok-{group.name}-{n:05d}", group) for n in range(count)]
        start += count
    return made


def app_container(app: str, namespace: str, config: str) -> dict:
    return {"name": app, "image": f"registry.example.com/{namespace}/{app}:1.{len(app) % 9}.0",
            "ports": [{"containerPort": 8080, "name": "http"}],
            "env": [{"name": "APP_NAME", "value": app}, {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "CONFIG", "valueFrom": {"configMapKeyRef": {"name": config, "key": "app.yaml"}}}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}]}


def pod_spec(containers: list[dict], volumes: list[dict], node_name: str | None = None) -> dict:
    spec = {"containers": containers, "volumes": volumes, "tolerations": TOLERATE_FAKE,
            "terminationGracePeriodSeconds": 30}
    if node_name:
        spec["nodeName"] = node_name
    return spec


def config_map(namespace: str, name: str, n: int) -> dict:
    text = "\n".join(f"{section}:\n  enabled: {str(n % 2 == 0).lower()}\n  endpoint: http://svc-{n % 97}."
                     f"{namespace}.svc:8080/{section}\n  timeoutSeconds: {5 + n % 30}"
                     for section in ("cache", "metrics", "tracing", "auth"))
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"app.yaml": text, "LOG_FORMAT": "json", "FEATURE_FLAGS": f"a,b,c{n % 7}"}}


def daemonsets(namespace: str) -> list[dict]:
    """node-exporter reads /proc and /sys (clean); the log agent mounts Docker's
    socket for container metadata, which containerd nodes lack."""
    shapes = (("node-exporter", "quay.io/prometheus/node-exporter:v1.8.2",
               [("proc", "/proc"), ("sys", "/sys")]),
              ("log-agent", "registry.example.com/logging/log-agent:2.1.0",
               [("varlog", "/var/log"), ("dockerlogs", DOCKER_CONTAINER_LOGS), ("dockersock", DOCKER_SOCKET)]))
    made = []
    for name, image, mounts in shapes[:DAEMONSETS]:
        spec = pod_spec([{"name": name, "image": image,
                          "volumeMounts": [{"name": v, "mountPath": p, "readOnly": True} for v, p in mounts]}],
                        [{"name": v, "hostPath": {"path": p}} for v, p in mounts])
        made.append({"apiVersion": "apps/v1", "kind": "DaemonSet",
                     "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
                     "spec": {"selector": {"matchLabels": {"app": name}},
                              "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})
    return made


def replica_set(deployment: dict, template_hash: str = "7d9f5c") -> dict:
    """The ReplicaSet the Deployment controller would make: the template's labels
    and the selector carry pod-template-hash."""
    meta, spec = deployment["metadata"], deployment["spec"]
    labels = {**spec["template"]["metadata"]["labels"], "pod-template-hash": template_hash}
    return {"metadata": {"name": f"{meta['name']}-{template_hash}", "namespace": meta["namespace"],
                         "labels": labels, "ownerReferences": owner("Deployment", deployment)},
            "spec": {"replicas": spec["replicas"],
                     "selector": {"matchLabels": {**spec["selector"]["matchLabels"],
                                                  "pod-template-hash": template_hash}},
                     "template": {"metadata": {"labels": labels}, "spec": spec["template"]["spec"]}}}


def corpus_objects() -> list[dict]:
    import yaml
    found = []
    for path in sorted(CORPUS.glob("*.yaml")):
        found += [o for o in yaml.safe_load_all(path.read_text()) if o and o.get("kind") in PATHS]
    return found


@dataclass
class Populated:
    nodes: int = 0
    pods: int = 0
    config_maps: int = 0
    other: int = 0
    seconds: float = 0.0

    @property
    def objects(self) -> int:
        return self.nodes + self.pods + self.config_maps + self.other

    def rate(self) -> float:
        return self.objects / self.seconds if self.seconds else 0.0


def populate(api_client: client.ApiClient, size: Size, say: Callable[[str], None] = print,
             workers: int = WORKERS) -> Populated:
    """Write size's objects; returns the counts and the time it took."""
    writer, done, started = Writer(api_client, workers), Populated(), time.monotonic()
    namespaces = [f"team-{i:03d}" for i in range(size.namespaces)]
    system, legacy = "monitoring", "legacy"
    writer.post_all(("/api/v1/namespaces", {"metadata": {"name": ns}})
                    for ns in [system, legacy, *namespaces])
    placed = nodes_in_groups(size)
    writer.post_all(("/api/v1/nodes", node(name, group)) for name, group in placed)
    done.nodes = len(placed)
    say(f"{done.nodes} fake nodes in {len(NODE_GROUPS)} groups ({time.monotonic() - started:.0f} s)")

    cms = [(ns_path("ConfigMap", ns), config_map(ns, f"app-{i:05d}-config", i))
           for i in range(size.config_maps) for ns in [namespaces[i % len(namespaces)]]]
    writer.post_all(cms)
    done.config_maps = len(cms)
    say(f"{done.config_maps} ConfigMaps ({time.monotonic() - started:.0f} s)")

    corpus = corpus_objects()
    for obj in corpus:
        obj["metadata"]["namespace"] = legacy
    writer.post_all((ns_path(o["kind"], legacy), o) for o in corpus)
    done.other += len(corpus)

    node_names = [name for name, _ in placed]
    docker_nodes = [name for name, g in placed if g.runtime_version.startswith("docker://")] or node_names
    pods: list[tuple[str, dict]] = []
    for ds in writer.post_all((ns_path("DaemonSet", system), d) for d in daemonsets(system)):
        template = ds["spec"]["template"]
        done.other += 1
        for i, name in enumerate(node_names[:max(0, size.pods - len(pods))]):
            pods.append((ns_path("Pod", system), {
                "metadata": {"name": f"{ds['metadata']['name']}-{i:05d}", "namespace": system,
                             "labels": template["metadata"]["labels"], "ownerReferences": owner("DaemonSet", ds)},
                "spec": {**template["spec"], "nodeName": name}}))
    bare = round(size.pods * BARE_POD_SHARE)
    for i in range(min(bare, size.pods - len(pods))):
        ns = namespaces[i % len(namespaces)]
        if i % BARE_COUPLED_EVERY == 0:      # a CI build pod that drives the node's Docker
            spec = pod_spec([{"name": "build", "image": "docker:20.10", "command": ["docker", "build", "."],
                              "volumeMounts": [{"name": "sock", "mountPath": DOCKER_SOCKET}]}],
                            [{"name": "sock", "hostPath": {"path": DOCKER_SOCKET}}],
                            docker_nodes[i % len(docker_nodes)])
        else:
            config = f"app-{i % max(1, size.config_maps):05d}-config"
            spec = pod_spec([app_container("worker", ns, config)],
                            [{"name": "config", "configMap": {"name": config}}], node_names[i % len(node_names)])
        pods.append((ns_path("Pod", ns), {"metadata": {"name": f"bare-{i:05d}", "namespace": ns,
                                                       "labels": {"app": "bare"}}, "spec": spec}))
    deployments, budget, d = [], size.pods - len(pods), 0
    while budget > 0:
        replicas = min(budget, REPLICAS[d % len(REPLICAS)])
        ns, app = namespaces[d % len(namespaces)], f"svc-{d:05d}"
        config = f"app-{d % max(1, size.config_maps):05d}-config"
        template = {"metadata": {"labels": {"app": app}},
                    "spec": pod_spec([app_container(app, ns, config)],
                                     [{"name": "config", "configMap": {"name": config}}])}
        deployments.append((ns_path("Deployment", ns), {
            "metadata": {"name": app, "namespace": ns, "labels": {"app": app}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}}, "template": template}}))
        budget, d = budget - replicas, d + 1
    made = writer.post_all(deployments)
    done.other += len(made)
    replica_sets = [(ns_path("ReplicaSet", dep["metadata"]["namespace"]), replica_set(dep)) for dep in made]
    made_rs = writer.post_all(replica_sets)
    done.other += len(made_rs)
    say(f"{len(made)} Deployments and their ReplicaSets, {DAEMONSETS} DaemonSets, {len(corpus)} corpus objects "
        f"({time.monotonic() - started:.0f} s)")
    at = 0
    for rs in made_rs:
        ns = rs["metadata"]["namespace"]
        for r in range(rs["spec"]["replicas"]):
            pods.append((ns_path("Pod", ns), {
                "metadata": {"name": f"{rs['metadata']['name']}-{r:05x}", "namespace": ns,
                             "labels": rs["spec"]["template"]["metadata"]["labels"],
                             "ownerReferences": owner("ReplicaSet", rs)},
                "spec": {**rs["spec"]["template"]["spec"], "nodeName": node_names[at % len(node_names)]}}))
            at += 1
    writer.post_all(pods)
    done.pods = len(pods)
    done.seconds = time.monotonic() - started
    say(f"{done.pods} pods bound to the fake nodes; {done.objects} objects in {done.seconds:.0f} s "
        f"({done.rate():.0f}/s, {workers} threads)")
    return done


def wait_settled(api_client: client.ApiClient, timeout: float = 1800,
                 say: Callable[[str], None] = print) -> float:
    """Wait until kwok has every fake node Ready and every bound pod Running;
    returns the seconds waited."""
    from crigate.gate.inventory import Reader, Resource
    reader, started = Reader(api_client), time.monotonic()
    pods = Resource("v1", "pods")
    while True:
        pending = sum(len(page) for page in reader.pages(pods, field_selector="status.phase=Pending,spec.nodeName!="))
        unready = sum(1 for page in reader.pages(Resource("v1", "nodes", False)) for n in page
                      if not any(c.get("type") == "Ready" and c.get("status") == "True"
                                 for c in (n.get("status") or {}).get("conditions") or []))
        if not pending and not unready:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"kwok: after {timeout:.0f} s, {unready} fake nodes not Ready, "
                               f"{pending} bound pods still Pending")
        say(f"kwok: {unready} nodes not Ready, {pending} bound pods Pending "
            f"({time.monotonic() - started:.0f} s)")
        time.sleep(10)
