"""Acting as a ServiceAccount that holds only the permissions crigate ships."""
from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
GATE_CLUSTERROLE = REPO / "plugins/gate/clusterrole.yaml"


def service_account_kubeconfig(cluster, kubectl, tmp_path: Path, name: str) -> Path:
    """A kubeconfig that authenticates as ServiceAccount default/<name>."""
    kubectl("create", "serviceaccount", name, "-n", "default")
    token = cluster.kube.core.create_namespaced_service_account_token(
        name, "default", {"spec": {"expirationSeconds": 3600}}).status.token
    admin = yaml.safe_load(Path(cluster.provider.kubeconfig()[0]).read_text())
    config = {"apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"],
              "users": [{"name": name, "user": {"token": token}}],
              "contexts": [{"name": name, "context": {"cluster": admin["clusters"][0]["name"],
                                                      "user": name}}],
              "current-context": name}
    path = tmp_path / f"{name}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def shipped_role_kubeconfig(cluster, kubectl, tmp_path: Path, name: str) -> Path:
    """A kubeconfig for ServiceAccount default/<name> bound cluster-wide to the
    crigate-gate ClusterRole as shipped, and nothing else."""
    kubectl.apply(GATE_CLUSTERROLE.read_text())
    kubectl("create", "clusterrolebinding", name, "--clusterrole=crigate-gate",
            f"--serviceaccount=default:{name}")
    return service_account_kubeconfig(cluster, kubectl, tmp_path, name)
