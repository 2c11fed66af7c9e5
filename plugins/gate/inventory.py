"""Everything the gate reads from the API, read-only, as plain dicts.

Each list is tried cluster-wide first; when RBAC denies that, namespace by
namespace, so one forbidden namespace costs only that namespace, and the
denial is recorded with the exact permission that is missing. Each request is
retried through apiretry.Retrier (429, 5xx, resets, timeouts; one budget per
cluster); a read that still fails stops the audit (ReadFailed: could not decide).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from .apiretry import GaveUp, Retrier, fault_of
from .findings import PodTemplate

CONFIGZ_TIMEOUT_S = 10  # one node's kubelet config, one try
RELISTS = 3             # lists started again after their continue token expired (HTTP 410)
CONNECT_TIMEOUT_S = 10  # of a request's timeout, at most this long to connect


class Unreachable(RuntimeError):
    """The API server could not be asked at all."""


class ReadFailed(Unreachable):
    """A read that still failed after its retries: the audit stops there, and
    the gate cannot decide, naming what it could not read. Never a partial
    inventory: a list missing its last pages would decide as if complete."""


class Undecodable(ValueError):
    """The API server answered a list with something that is not a list of objects."""


@dataclass(frozen=True)
class Resource:
    group_version: str      # "v1", "apps/v1", ...
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.group_version.split("/")[0] if "/" in self.group_version else ""

    def path(self, namespace: str | None = None) -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        return f"{base}/namespaces/{namespace}/{self.plural}" if namespace else f"{base}/{self.plural}"

    def rbac(self, namespace: str | None) -> str:
        where = f"in namespace {namespace}" if namespace else "cluster-wide"
        return f"list {self.plural} (apiGroup {self.group or 'core'!r}) {where}"


NAMESPACES = Resource("v1", "namespaces", namespaced=False)
NODES = Resource("v1", "nodes", namespaced=False)
RUNTIME_CLASSES = Resource("node.k8s.io/v1", "runtimeclasses", namespaced=False)
PODS = Resource("v1", "pods")
CONFIG_MAPS = Resource("v1", "configmaps")
EVENTS = Resource("v1", "events")
CRDS = Resource("apiextensions.k8s.io/v1", "customresourcedefinitions", namespaced=False)
WORKLOADS = {           # kind -> resource, and where its pod spec sits
    "Deployment": (Resource("apps/v1", "deployments"), ("spec", "template", "spec")),
    "StatefulSet": (Resource("apps/v1", "statefulsets"), ("spec", "template", "spec")),
    "DaemonSet": (Resource("apps/v1", "daemonsets"), ("spec", "template", "spec")),
    "ReplicaSet": (Resource("apps/v1", "replicasets"), ("spec", "template", "spec")),
    "Job": (Resource("batch/v1", "jobs"), ("spec", "template", "spec")),
    "CronJob": (Resource("batch/v1", "cronjobs"), ("spec", "jobTemplate", "spec", "template", "spec")),
    # core PodTemplates: pods made later from a stored template (CI runners, operators)
    "PodTemplate": (Resource("v1", "podtemplates"), ("template", "spec")),
}
# Pods owned by these are covered by their owner's template.
COVERED_OWNERS = {"ReplicaSet", "DaemonSet", "StatefulSet", "Job"}
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
SANDBOX_FAILURES = ("FailedCreatePodSandBox", "FailedCreatePodSandbox")   # event reasons kept
# Objects per list request. The API server's watch cache answers pages of any
# size alike; 500 is what kubectl asks for (its --chunk-size default).
PAGE_SIZE = 500
# Node status fields no rule reads, which grow with what ran on the node.
NODE_FIELDS_UNREAD = ("images", "volumesInUse", "volumesAttached")
READ_ONLY_RESOURCES = [NAMESPACES, NODES, RUNTIME_CLASSES, PODS, CONFIG_MAPS, EVENTS, CRDS,
                       *(r for r, _ in WORKLOADS.values())]


@dataclass
class Inventory:
    templates: list[PodTemplate] = field(default_factory=list)
    config_maps: dict[tuple[str, str], dict] = field(default_factory=dict)   # (ns, name) -> data
    nodes: list[dict] = field(default_factory=list)
    runtime_classes: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)      # missing permissions, in words
    kubelet_configs: dict[str, dict] = field(default_factory=dict)   # node -> configz, where permitted
    notes: list[str] = field(default_factory=list)       # what was not read, and why (not a denial)
    locations: dict[str, str] = field(default_factory=dict)   # object ref -> file:line (manifests)
    unreadable: list[str] = field(default_factory=list)  # objects whose fields have other types, in words
    node_templates: list[tuple[str, dict]] = field(default_factory=list)   # (ref, object) that set up nodes
    _addresses: tuple | None = field(default=None, repr=False, compare=False)

    def config_map(self, namespace: str, name: str) -> dict:
        return self.config_maps.get((namespace, name), {})

    def node_addresses(self) -> frozenset[str]:
        """Every address and host name the nodes report; worked out again only
        when the node list was replaced or grew."""
        key = (id(self.nodes), len(self.nodes))
        if self._addresses is None or self._addresses[0] != key:
            self._addresses = (key, frozenset(a.get("address", "") for n in self.nodes
                                              for a in n.get("status", {}).get("addresses", []) or []))
        return self._addresses[1]

    def node_runtimes(self) -> dict[str, str]:
        """node name -> containerRuntimeVersion ("docker://20.10.24", "containerd://1.7")."""
        return {n["metadata"]["name"]: n.get("status", {}).get("nodeInfo", {}).get(
            "containerRuntimeVersion", "") for n in self.nodes}


def reading_client(kubeconfig, context: str | None = None):
    """An ApiClient for the gate's reads, urllib3's own retries off: the
    Retrier retries each fault (counted, within its budget), not urllib3 as
    well behind its back (three more tries of each timeout)."""
    from kubernetes import client, config
    settings = client.Configuration()
    config.load_kube_config(str(kubeconfig), context, client_configuration=settings)
    settings.retries = False
    return client.ApiClient(settings)


def uid_of(item) -> str:
    return (item.get("metadata") or {}).get("uid", "") if isinstance(item, dict) else ""


class Reader:
    """Raw reads through a kubernetes ApiClient (imported here only: the
    offline gate never loads the client)."""

    def __init__(self, api_client, retrier: Retrier | None = None):
        self.api = api_client
        self.retrier = retrier or Retrier()
        self.denied: list[str] = []
        self.unreadable: list[str] = []      # lists and objects crigate could not decode, in words
        self._namespaces: list[str] | None = None

    def get(self, path: str, params: dict | None = None, what: str = "") -> dict:
        """One answer, retried on faults; ReadFailed names `what` (the
        permission's words) when the retries run out."""
        try:
            return self.retrier.call(lambda timeout_s: self.get_once(path, params, timeout_s))
        except GaveUp as err:
            raise ReadFailed(f"could not read: {what or 'GET ' + path}: {err}") from None

    def get_once(self, path: str, params: dict | None, timeout_s: float) -> dict:
        from kubernetes import client
        method, url, headers, body, post = self.api.param_serialize(
            "GET", path, query_params=list((params or {}).items()),
            header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        response = self.api.call_api(method, url, header_params=headers,
                                     _request_timeout=(min(timeout_s, CONNECT_TIMEOUT_S), timeout_s))
        response.read()                 # the body: a reset or a cut answer shows here
        if response.status >= 400:
            raise client.ApiException(http_resp=response)
        try:
            return json.loads(response.data)
        except ValueError as err:
            raise Undecodable(f"GET {path}: the answer is not JSON ({err})") from None

    def pages(self, resource: Resource, namespace: str | None = None, *,
              field_selector: str | None = None) -> Iterator[list]:
        """The list's items a page (PAGE_SIZE objects) at a time: the caller keeps
        what it needs of each page before the next is read, so memory follows the
        page and what is kept, not the size of the cluster. A continue token that
        expired (HTTP 410) starts the list again from its first page, as the API
        concepts doc says a client wanting a whole list must
        (https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks);
        objects already given (by uid) are not given twice. field_selector
        narrows the list on the server (status.phase=Pending)."""
        from kubernetes import client
        what = resource.rbac(namespace)
        given: set[str] = set()
        for _ in range(RELISTS + 1):
            params, number = {"limit": PAGE_SIZE}, 0
            if field_selector:
                params["fieldSelector"] = field_selector
            try:
                while True:
                    number += 1
                    page = self.get(resource.path(namespace), params,
                                    f"{what}, page {number}" if number > 1 else what)
                    if not isinstance(page, dict) or not isinstance(page.get("items") or [], list):
                        raise Undecodable(f"GET {resource.path(namespace)}: the answer is not a list of objects")
                    fresh = [item for item in page.get("items") or [] if uid_of(item) not in given]
                    given.update(uid for uid in map(uid_of, fresh) if uid)
                    yield fresh
                    token = page.get("metadata", {}).get("continue")
                    if not token:
                        return
                    params["continue"] = token
            except client.ApiException as err:
                if err.status != 410 or "continue" not in params:
                    raise
                self.retrier.met["HTTP 410 on a continue token (listed again from the start)"] += 1
        raise ReadFailed(f"could not read: {what}: its continue token expired {RELISTS + 1} times "
                         "(HTTP 410); the list changes faster than it can be read in pages")

    def list_all(self, resource: Resource, namespace: str | None = None) -> list[dict]:
        return [item for items in self.pages(resource, namespace) for item in items]

    def namespaces(self) -> list[str]:
        if self._namespaces is None:
            self._namespaces = [n["metadata"]["name"] for n in self.list_all(NAMESPACES)]
        return self._namespaces

    def read(self, resource: Resource, kind: str, optional: bool = False) -> list[dict]:
        return [obj for page in self.each_page(resource, kind, optional) for obj in page]

    def each_page(self, resource: Resource, kind: str, optional: bool = False) -> Iterator[list[dict]]:
        """The objects of a kind whose fields have the types the gate reads, a
        page at a time; others, and lists that are not lists, recorded in unreadable."""
        from . import shapes
        try:
            for items in self.raw_pages(resource, optional):
                kept = []
                for obj in items:
                    found = (shapes.problems(obj, kind, named=True) if isinstance(obj, dict)
                             else [([], "not an object")])
                    if found:
                        ref = shapes.ref_of(obj if isinstance(obj, dict) else {}, kind=kind)
                        self.unreadable.append(f"{shapes.described(ref, found)} (as the API returned it)")
                    else:
                        kept.append(obj)
                yield kept
        except Undecodable as err:
            self.unreadable.append(f"{err} (as the API returned it)")

    def read_raw(self, resource: Resource, optional: bool = False) -> list:
        return [item for items in self.raw_pages(resource, optional) for item in items]

    def raw_pages(self, resource: Resource, optional: bool = False) -> Iterator[list]:
        """Cluster-wide list, a page at a time; on 403 per namespace; denials
        recorded, never raised. A denial comes with the first page, before
        anything was yielded."""
        from kubernetes import client
        started = False
        try:
            for items in self.pages(resource):
                started = True
                yield items
            return
        except client.ApiException as err:
            if started:
                raise
            if err.status == 404 and optional:
                return
            if err.status != 403:
                raise
            if not resource.namespaced:
                self.denied.append(resource.rbac(None))
                return
        try:
            namespaces = self.namespaces()
        except client.ApiException as err:
            if err.status != 403:
                raise
            self.denied.append(f"{resource.rbac(None)} (or {NAMESPACES.rbac(None)} to read it "
                               "namespace by namespace)")
            return
        for namespace in namespaces:
            try:
                yield from self.pages(resource, namespace)
            except client.ApiException as err:
                if err.status != 403:
                    raise
                self.denied.append(resource.rbac(namespace))


def pod_spec(obj: dict, where: tuple[str, ...]) -> dict:
    for key in where:
        obj = obj.get(key) or {}
    return obj


def templates_from(kind: str, objects: list[dict], where: tuple[str, ...]) -> list[PodTemplate]:
    found = []
    for obj in objects:
        meta = obj["metadata"]
        owners = {o.get("kind") for o in meta.get("ownerReferences", [])}
        if kind == "ReplicaSet" and "Deployment" in owners:
            continue
        if kind == "Job" and "CronJob" in owners:
            continue
        template_meta = pod_spec(obj, where[:-1]).get("metadata") or {} if len(where) > 1 else {}
        found.append(PodTemplate(kind, meta.get("namespace", ""), meta["name"],
                                 pod_spec(obj, where), meta.get("labels") or {},
                                 {**(meta.get("annotations") or {}),
                                  **(template_meta.get("annotations") or {})}))
    return found


def pod_templates(pods: list[dict]) -> list[PodTemplate]:
    """Bare pods, static (mirror) pods and pods of controllers the gate does not list."""
    found = []
    for pod in pods:
        meta = pod["metadata"]
        owners = {o.get("kind") for o in meta.get("ownerReferences", [])}
        if owners & COVERED_OWNERS:
            continue
        kind = "StaticPod" if MIRROR_ANNOTATION in (meta.get("annotations") or {}) else "Pod"
        found.append(PodTemplate(kind, meta.get("namespace", ""), meta["name"], pod.get("spec", {}),
                                 meta.get("labels") or {}, meta.get("annotations") or {}))
    return found


def read_inventory(api_client, reader: Reader | None = None) -> Inventory:
    """The inventory, read a page at a time; of each page only what a rule reads
    is kept: workloads and bare pods as PodTemplates (pods a controller owns are
    dropped: their owner's template covers them), ConfigMaps' data, nodes without
    their image lists and managed fields, sandbox-failure events."""
    reader = reader or Reader(api_client)
    inventory = Inventory()
    for kind, (resource, where) in WORKLOADS.items():
        for page in reader.each_page(resource, kind):
            inventory.templates.extend(templates_from(kind, page, where))
    for page in reader.each_page(PODS, "Pod"):
        inventory.templates.extend(pod_templates(page))
    for page in reader.each_page(CONFIG_MAPS, "ConfigMap"):
        for cm in page:
            meta = cm["metadata"]
            inventory.config_maps[(meta.get("namespace", ""), meta["name"])] = cm.get("data") or {}
    for page in reader.each_page(NODES, "Node"):
        inventory.nodes.extend(node_as_read(n) for n in page)
    inventory.runtime_classes = reader.read(RUNTIME_CLASSES, "RuntimeClass", optional=True)
    for page in reader.each_page(EVENTS, "Event"):
        inventory.events.extend(e for e in page if e.get("reason") in SANDBOX_FAILURES)
    inventory.denied, inventory.unreadable = reader.denied, reader.unreadable
    read_kubelet_configs(reader, inventory)
    return inventory


def node_as_read(node: dict) -> dict:
    """A node without what no rule reads and what grows with the cluster's
    history: the images it holds, volumes, and managed fields."""
    node.get("metadata", {}).pop("managedFields", None)
    status = node.get("status")
    if isinstance(status, dict):
        for bulky in NODE_FIELDS_UNREAD:
            status.pop(bulky, None)
    return node


def read_kubelet_configs(reader: Reader, inventory: Inventory) -> None:
    """Kubelet config through the API server's node proxy (/configz), where permitted.
    Optional: nodes/proxy grants far more than reading, so the ClusterRole leaves it out.
    One try per node, no retries (a node that is down would spend the cluster's
    retry budget): a node whose config cannot be read is named in the notes."""
    from kubernetes import client
    unread = []
    for node in inventory.nodes:
        name = node["metadata"]["name"]
        try:
            inventory.kubelet_configs[name] = reader.get_once(
                f"/api/v1/nodes/{name}/proxy/configz", None, CONFIGZ_TIMEOUT_S).get("kubeletconfig", {})
        except client.ApiException as err:
            if err.status == 403:
                inventory.notes.append("kubelet config of the nodes not read: not permitted (get nodes/proxy)")
                return
            unread.append(f"{name} (HTTP {err.status})")
        except Exception as err:        # a node down, a proxy timing out, an answer that is not JSON
            unread.append(f"{name} ({fault_of(err) or type(err).__name__})")
    if unread:
        shown = ", ".join(unread[:10]) + (f" and {len(unread) - 10} more" if len(unread) > 10 else "")
        inventory.notes.append(f"kubelet config not read on {len(unread)} of {len(inventory.nodes)} nodes: "
                               f"{shown}; their kubelet flags are judged from node status alone")
