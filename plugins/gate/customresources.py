"""Custom resources that describe pods, read from a cluster: a CI system's
tasks, a workflow engine's templates, an operator's pod templates. Their pods
exist only while they run, so the pods the gate lists miss a task that mounts
docker.sock unless it runs during the audit; the task itself does not.

The same for the objects that set up nodes (nodetemplates.py: a node
provisioner's user data, kubelet runtime settings).

Which kinds may describe pods or nodes is read from their CustomResourceDefinitions,
not from a list of products: a served version whose schema keeps unknown
fields (Tekton's and Argo's CRDs do), holds a string `image` beside a
container's fields (embedded.CONTAINER_FIELDS), or has a field named for what
sets up nodes (nodetemplates.sets_up_nodes). Their objects are read by shape
(embedded.py, nodetemplates.py), as from manifests. A list that fails (a
conversion webhook down) costs at most OPTIONAL_BUDGET_S of retries and is a
note, not a could-not-decide.

Permissions: listing CRDs is in the shipped ClusterRole (they hold schemas, no
data). Listing a custom resource is not (RBAC cannot grant "every kind but
Secrets"): where it is not permitted, a note names the kinds and the rule to
grant; it is a note, not a could-not-decide, as the workloads that run them
are read either way.
"""
from __future__ import annotations

from . import nodetemplates, shapes
from .apiretry import Retrier
from .embedded import CONTAINER_FIELDS, named, read_as_pods_note, templates
from .inventory import CRDS, Inventory, Reader, ReadFailed, Resource, Undecodable

MAX_SCHEMA_DEPTH = 64
MAX_NAMED = 8          # kinds named in a note
OPTIONAL_BUDGET_S = 10.0   # faults the custom-resource lists may cost in all: they are optional


def may_describe_pods(schema, depth: int = 0) -> bool:
    """An OpenAPI v3 schema with room for containers, or for what sets up
    nodes (nodetemplates: user data, node commands, a runtime or CRI socket)."""
    if not isinstance(schema, dict) or depth > MAX_SCHEMA_DEPTH:
        return False
    if schema.get("x-kubernetes-preserve-unknown-fields") is True:
        return True
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    image = properties.get("image")
    if isinstance(image, dict) and image.get("type") == "string" and any(
            k in properties for k in CONTAINER_FIELDS):
        return True
    if any(nodetemplates.sets_up_nodes(str(k)) for k in properties):
        return True
    children = [*properties.values(), schema.get("items"), schema.get("additionalProperties"),
                *(schema.get("allOf") or []), *(schema.get("anyOf") or []), *(schema.get("oneOf") or [])]
    return any(may_describe_pods(child, depth + 1) for child in children)


def pod_describing_resources(crds: list[dict]) -> list[Resource]:
    """The served version of each CRD whose schema may describe pods (the
    storage version where it is served)."""
    found = []
    for crd in crds:
        spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
        names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
        versions = [v for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("served")]
        if not versions or not names.get("plural") or not spec.get("group"):
            continue
        version = next((v for v in versions if v.get("storage")), versions[0])
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None or may_describe_pods(schema):
            found.append(Resource(f"{spec['group']}/{version.get('name')}", names["plural"],
                                  spec.get("scope") != "Cluster"))
    return found


def read(reader: Reader, inventory: Inventory) -> None:
    """Add the pods that custom resources describe to the inventory; notes for
    what could not be read."""
    from kubernetes import client
    try:
        crds = reader.list_all(CRDS)
    except client.ApiException as err:
        if err.status not in (403, 404):
            raise
        inventory.notes.append("custom resources not looked at: not permitted "
                               f"({CRDS.rbac(None)}); tasks and templates that describe pods are "
                               "judged only while their pods run")
        return
    optional = Reader(reader.api, Retrier(OPTIONAL_BUDGET_S, reader.retrier.timeout_s))
    denied, failed, described = [], [], []
    for resource in pod_describing_resources(crds):
        try:
            for page in optional.pages(resource):
                for obj in page:
                    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict) \
                            or not obj["metadata"].get("name"):
                        continue
                    made, unread = templates(obj)       # a shape guessed, not a kind known: notes
                    inventory.templates.extend(made)
                    inventory.notes.extend(f"not read as a pod: {said} (as the API returned it)" for said in unread)
                    described += [made[0].ref] if made else []
                    if not made:          # it may set up nodes instead; what no rule reads is dropped
                        inventory.node_templates.append((shapes.ref_of(obj), {
                            k: v for k, v in obj.items() if k not in ("status", "metadata")}))
        except client.ApiException as err:
            if err.status not in (403, 404):
                raise
            (denied if err.status == 403 else failed).append(f"{resource.plural}.{resource.group}")
        except (ReadFailed, Undecodable) as err:   # a conversion webhook down, an answer not JSON
            failed.append(f"{resource.plural}.{resource.group} ({err})")
    inventory.notes.extend(said_of(described, denied, failed))
    if met := optional.retrier.summary():
        inventory.notes.append(f"custom resources: {met}")


def said_of(described: list[str], denied: list[str], failed: list[str]) -> list[str]:
    """The notes: what was read as pods, what could not be read and why."""
    notes = [read_as_pods_note(described, "custom resources")] if described else []
    if denied:
        notes.append(f"custom resources that may describe pods or set up nodes not read (not permitted): "
                     f"{named(denied, MAX_NAMED)}; their pods are judged only while they run. To read them, "
                     "grant list on them to the gate's identity (a ClusterRole rule: apiGroups [GROUP], "
                     "resources [PLURAL], verbs [list])")
    if failed:
        notes.append(f"custom resources that may describe pods or set up nodes not read (the API did not "
                     f"answer the list): {named(failed, MAX_NAMED)}; their pods are judged only while they run")
    return notes

