"""Workloads seeded into a test-bed cluster for the gate: each offending case
has a clean twin that looks alike and must not be reported.

Nothing here needs to run: Deployments and StatefulSets have 0 replicas,
DaemonSets select no node, Jobs and CronJobs are suspended; only the bare
pods run (busybox, no Docker inside).
"""
from __future__ import annotations

from crigate.testbed.images import BUSYBOX_IMAGE

NO_NODE = {"crigate.test/no-such-node": "true"}


def container(name="main", command=None, env=None, mounts=(), image=BUSYBOX_IMAGE, **extra) -> dict:
    c = {"name": name, "image": image, "imagePullPolicy": "IfNotPresent",
         "command": command or ["sleep", "3600"]}
    if env:
        c["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if mounts:
        c["volumeMounts"] = [{"name": v, "mountPath": p} for v, p in mounts]
    c.update(extra)
    return c


def host_path(name: str, path: str) -> dict:
    return {"name": name, "hostPath": {"path": path}}


def config_map_volume(name: str, config_map: str) -> dict:
    return {"name": name, "configMap": {"name": config_map}}


def pod_spec(containers, volumes=(), **extra) -> dict:
    return {"containers": list(containers), "volumes": list(volumes), **extra}


def workload(kind: str, name: str, spec: dict) -> dict:
    meta = {"name": name, "labels": {"app": name}}
    template = {"metadata": {"labels": {"app": name}}, "spec": spec}
    selector = {"matchLabels": {"app": name}}
    if kind in ("Deployment", "ReplicaSet"):
        body = {"replicas": 0, "selector": selector, "template": template}
    elif kind == "StatefulSet":
        body = {"replicas": 0, "serviceName": name, "selector": selector, "template": template}
    elif kind == "DaemonSet":
        template["spec"] = {**spec, "nodeSelector": NO_NODE}
        body = {"selector": selector, "template": template}
    elif kind == "Job":
        template["spec"] = {**spec, "restartPolicy": "Never"}
        body = {"suspend": True, "template": template}
    elif kind == "CronJob":
        template["spec"] = {**spec, "restartPolicy": "Never"}
        body = {"schedule": "0 0 1 1 *", "suspend": True, "jobTemplate": {"spec": {"template": template}}}
    elif kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    group = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    return {"apiVersion": group, "kind": kind, "metadata": meta, "spec": body}


def config_map(name: str, data: dict) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


FLUENT_BIT_DOCKER = """[INPUT]
    Name   tail
    Path   /var/log/containers/*.log
    Parser docker
    Tag    kube.*
"""
FLUENT_BIT_CRI = FLUENT_BIT_DOCKER.replace("Parser docker", "multiline.parser docker, cri")
FLUENTD_JSON = """<source>
  @type tail
  path /var/log/containers/*.log
  pos_file /var/log/containers.pos
  tag kubernetes.*
  <parse>
    @type json
  </parse>
</source>
"""
FLUENTD_CRI = FLUENTD_JSON.replace("@type json", "@type cri")
CLEANUP_SCRIPT = "#!/bin/sh\nset -e\ndocker system prune -f\n"
MIGRATED_SCRIPT = ("#!/bin/sh\n# was: docker ps -q | xargs docker rm\ncrictl ps\n"
                   "echo 'docker is gone from this node'\n")


def seeds() -> list[dict]:
    """The seeded objects; their names say what they are."""
    dind = container("dind", image=BUSYBOX_IMAGE + "-dind-stand-in", command=["dockerd"])
    return [
        config_map("docker-env", {"DOCKER_HOST": "unix:///var/run/docker.sock"}),
        config_map("cleanup-script", {"cleanup.sh": CLEANUP_SCRIPT}),
        config_map("migrated-script", {"run.sh": MIGRATED_SCRIPT}),
        config_map("fluent-bit-docker", {"fluent-bit.conf": FLUENT_BIT_DOCKER}),
        config_map("fluent-bit-cri", {"fluent-bit.conf": FLUENT_BIT_CRI}),
        config_map("fluentd-json", {"fluent.conf": FLUENTD_JSON}),
        config_map("fluentd-cri", {"fluent.conf": FLUENTD_CRI}),
        # sockets
        workload("Deployment", "socket-user", pod_spec(
            [container(mounts=[("sock", "/var/run/docker.sock")])],
            [host_path("sock", "/var/run/docker.sock")])),
        workload("ReplicaSet", "orphan-socket-user", pod_spec(
            [container(mounts=[("sock", "/var/run/docker.sock")])],
            [host_path("sock", "/run/docker.sock")])),
        workload("DaemonSet", "run-dir-user", pod_spec(
            [container(command=["sh", "-c", "ls /host-run/docker.sock && sleep 3600"],
                       mounts=[("run", "/host-run")])], [host_path("run", "/var/run")])),
        workload("Deployment", "containerd-socket-user", pod_spec(
            [container(mounts=[("sock", "/run/containerd/containerd.sock"), ("netns", "/netns")])],
            [host_path("sock", "/run/containerd/containerd.sock"), host_path("netns", "/var/run/netns")])),
        # Docker's data root
        workload("StatefulSet", "docker-log-reader", pod_spec(
            [container(mounts=[("logs", "/logs")])], [host_path("logs", "/var/lib/docker/containers")])),
        workload("StatefulSet", "pod-log-reader", pod_spec(
            [container(mounts=[("logs", "/logs")])], [host_path("logs", "/var/log/pods")])),
        # DOCKER_HOST and the docker CLI
        workload("CronJob", "image-builder", pod_spec(
            [container(command=["sh", "-c", "docker build -t app . && docker push app"],
                       env={"DOCKER_HOST": "tcp://$(HOST_IP):2375"})])),
        workload("Deployment", "env-from-docker", pod_spec(
            [container(envFrom=[{"configMapRef": {"name": "docker-env"}}])])),
        workload("Job", "node-cleanup", pod_spec(
            [container(command=["/scripts/cleanup.sh"], mounts=[("scripts", "/scripts")])],
            [config_map_volume("scripts", "cleanup-script")])),
        workload("Pod", "bare-docker-caller", pod_spec(
            [container(command=["sh", "-c", "docker ps || sleep 3600"])],
            terminationGracePeriodSeconds=0)),
        workload("Deployment", "dind-builder", pod_spec(
            [container(command=["sh", "-c", "docker build -t app ."],
                       env={"DOCKER_HOST": "tcp://localhost:2375"}), dind])),
        workload("Job", "migrated-cleanup", pod_spec(
            [container(command=["/scripts/run.sh"], mounts=[("scripts", "/scripts")])],
            [config_map_volume("scripts", "migrated-script")])),
        workload("Pod", "docker-registry", pod_spec(
            [container(command=["sh", "-c", "echo serving registry:2 from /var/lib/registry; sleep 3600"],
                       env={"REGISTRY_STORAGE": "/var/lib/registry"})],
            terminationGracePeriodSeconds=0)),
        workload("Deployment", "registry-mirror", pod_spec(
            [container(image="registry:2", command=["registry", "serve", "/etc/docker/registry/config.yml"],
                       mounts=[("data", "/var/lib/registry")])], [host_path("data", "/srv/registry")])),
        # log shippers (the ConfigMaps above), mounted as shippers do
        workload("DaemonSet", "fluent-bit", pod_spec(
            [container(mounts=[("config", "/fluent-bit/etc")])],
            [config_map_volume("config", "fluent-bit-docker")])),
        # node agents, known by their image repository (never pulled here: the gate reads the template)
        workload("DaemonSet", "datadog-agent", pod_spec([container(image="gcr.io/datadoghq/agent:7.21.1")])),
        workload("DaemonSet", "kubectl-flame", pod_spec([container(image="verizondigital/kubectl-flame:v0.2.4-jvm")])),
        workload("DaemonSet", "node-exporter", pod_spec([container()])),
        # GPU
        workload("Deployment", "gpu-via-docker-default", pod_spec(
            [container(env={"NVIDIA_VISIBLE_DEVICES": "all"})])),
        workload("Deployment", "gpu-via-runtime-class", pod_spec(
            [container(env={"NVIDIA_VISIBLE_DEVICES": "all"})], runtimeClassName="nvidia")),
    ]


# (rule, object name) the gate must report, and names it must not.
EXPECTED = [
    ("docker-socket-mount", "Deployment", "socket-user"),
    ("docker-socket-mount", "ReplicaSet", "orphan-socket-user"),
    ("docker-socket-parent-mount", "DaemonSet", "run-dir-user"),
    ("docker-data-mount", "StatefulSet", "docker-log-reader"),
    ("docker-env", "CronJob", "image-builder"),
    ("docker-env", "Deployment", "env-from-docker"),
    ("docker-cli", "CronJob", "image-builder"),
    ("docker-cli", "Job", "node-cleanup"),
    ("docker-cli", "Pod", "bare-docker-caller"),
    ("fluent-bit-docker-parser", "ConfigMap", "fluent-bit-docker"),
    ("fluentd-json-parse", "ConfigMap", "fluentd-json"),
    ("node-agent", "DaemonSet", "datadog-agent"),
    ("node-agent", "DaemonSet", "kubectl-flame"),
    ("gpu-default-runtime", "Deployment", "gpu-via-docker-default"),
]
CLEAN_TWINS = ["containerd-socket-user", "pod-log-reader", "dind-builder", "migrated-cleanup",
               "docker-registry", "registry-mirror", "fluent-bit-cri", "fluentd-cri", "node-exporter",
               "gpu-via-runtime-class", "migrated-script"]
