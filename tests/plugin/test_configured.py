"""Docker couplings held in configuration (plugins/gate/configured.py): each
family is found, and its look-alike yields nothing."""
from __future__ import annotations

import pytest
from crigate.gate import agents, configured, rules
from crigate.gate.findings import BREAKS, REVIEW, PodTemplate
from crigate.gate.inventory import Inventory


def template(name="w", containers=(), volumes=(), kind="DaemonSet", annotations=None, **spec) -> PodTemplate:
    return PodTemplate(kind, "ns", name, {"containers": list(containers), "volumes": list(volumes), **spec},
                       annotations=annotations or {})


def c(name="main", image="busybox:1.36", **fields) -> dict:
    return {"name": name, "image": image, **fields}


def hostpath(volume, path):
    return {"name": volume, "hostPath": {"path": path}}


def mount(volume, path="/m", **extra):
    return {"name": volume, "mountPath": path, **extra}


def cms(**values) -> Inventory:
    """One ConfigMap per keyword: name -> {key: text}."""
    return Inventory(config_maps={("ns", name): data for name, data in values.items()})


def checks(findings) -> list[tuple[str, str, str]]:
    return sorted((f.check, f.severity, f.object) for f in findings)


def test_every_family_is_described_with_sources():
    groups = {"runtime-configured pods", "node configurators", "security profiles", "not node-coupled"}
    mine = [f for f in configured.FAMILIES.values() if f.group in groups]
    assert len(mine) >= 15
    for family in mine:
        assert family.severity in (BREAKS, REVIEW, "none"), family.id
        assert family.sources and all(s.startswith("https://") for s in family.sources), family.id
        assert family.breaks and family.fix and family.what, family.id


def test_every_rule_reports_a_described_family():
    ids = {r.__name__.removeprefix("find_").replace("_", "-") for r in configured.RULES}
    assert ids <= set(configured.FAMILIES)


GITLAB_DOCKER = """
concurrent = 4
[[runners]]
  name = "build"
  url = "https://gitlab.example.com/"
  executor = "docker"
  [runners.docker]
    image = "docker:24.0"
    privileged = true
    volumes = ["/var/run/docker.sock:/var/run/docker.sock", "/cache"]
"""
GITLAB_REMOTE = GITLAB_DOCKER.replace('privileged = true', 'host = "tcp://dind.ci.svc:2375"')
GITLAB_KUBE_SOCKET = """
[[runners]]
  executor = "kubernetes"
  [runners.kubernetes]
    namespace = "ci"
    [[runners.kubernetes.volumes.host_path]]
      name = "docker"
      mount_path = "/var/run/docker.sock"
      host_path = "/var/run/docker.sock"
"""
GITLAB_KUBE_CLEAN = """
[[runners]]
  executor = "kubernetes"
  [runners.kubernetes]
    privileged = true
    [[runners.kubernetes.volumes.host_path]]
      name = "cache"
      mount_path = "/cache"
      host_path = "/srv/gitlab-cache"
"""


def test_gitlab_runner_docker_executor_local_remote_and_kubernetes():
    inv = cms(local={"config.toml": GITLAB_DOCKER}, remote={"config.toml": GITLAB_REMOTE},
              kube={"config.template.toml": GITLAB_KUBE_CLEAN})
    assert checks(configured.find_gitlab_runner_docker_executor(inv, "containerd")) == [
        ("docker-remote-daemon", REVIEW, "ConfigMap/ns/remote[config.toml]"),
        ("gitlab-runner-docker-executor", BREAKS, "ConfigMap/ns/local[config.toml]")]


def test_gitlab_kubernetes_executor_mounting_the_node_socket():
    inv = cms(sock={"config.toml": GITLAB_KUBE_SOCKET}, clean={"config.toml": GITLAB_KUBE_CLEAN},
              broken={"config.toml": "[[runners]]\nexecutor = "})      # not TOML: ignored
    assert checks(configured.find_gitlab_runner_host_docker_socket(inv, "containerd")) == [
        ("gitlab-runner-host-docker-socket", BREAKS, "ConfigMap/ns/sock[config.toml]")]


JCASC = """
jenkins:
  clouds:
    - kubernetes:
        name: k8s
        templates:
          - name: docker
            containers:
              - name: docker
                image: docker:24.0
                command: cat
            volumes:
              - hostPathVolume:
                  hostPath: /var/run/docker.sock
                  mountPath: /var/run/docker.sock
"""
JCASC_YAML_FIELD = """
jenkins:
  clouds:
    - kubernetes:
        templates:
          - name: raw
            yaml: |
              spec:
                containers:
                  - name: build
                    image: docker:24.0
                volumes:
                  - name: sock
                    hostPath:
                      path: /run/docker.sock
"""
JCASC_KANIKO = JCASC.replace("hostPath: /var/run/docker.sock", "hostPath: /srv/m2").replace(
    "docker:24.0", "gcr.io/kaniko-project/executor:debug")


def test_jenkins_pod_templates_with_the_docker_socket():
    inv = cms(jcasc={"jcasc-default-config.yaml": JCASC}, raw={"k8s.yaml": JCASC_YAML_FIELD},
              kaniko={"k8s.yaml": JCASC_KANIKO})
    assert checks(configured.find_jenkins_agent_docker_socket(inv, "containerd")) == [
        ("jenkins-agent-docker-socket", BREAKS, "ConfigMap/ns/jcasc[jcasc-default-config.yaml]"),
        ("jenkins-agent-docker-socket", BREAKS, "ConfigMap/ns/raw[k8s.yaml]")]


@pytest.mark.parametrize("data,found", [
    ({"containerRuntimeExecutor": "docker"}, True),
    ({"config": "containerRuntimeExecutor: docker\nexecutor:\n  imagePullPolicy: Always\n"}, True),
    ({"containerRuntimeExecutors": "- name: docker\n  selector:\n    matchLabels:\n      legacy: 'true'\n"}, True),
    ({"containerRuntimeExecutor": "emissary"}, False),
    ({"containerRuntimeExecutor": "pns"}, False),
    ({"executor": "imagePullPolicy: IfNotPresent\n"}, False),
])
def test_argo_docker_executor(data, found):
    inv = cms(**{"workflow-controller-configmap": data})
    assert bool(configured.find_argo_docker_executor(inv, "containerd")) is found


AIRFLOW_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: worker
spec:
  containers:
    - name: base
      image: apache/airflow:2.9.3
  volumes:
    - name: docker
      hostPath:
        path: /var/run/docker.sock
"""


def test_pod_templates_kept_in_config_maps():
    clean = AIRFLOW_POD.replace("/var/run/docker.sock", "/opt/airflow/logs")
    inv = cms(airflow={"pod_template_file.yaml": AIRFLOW_POD}, clean={"pod_template_file.yaml": clean},
              text={"notes.txt": "hostPath /var/run/docker.sock in containers is gone"})
    assert checks(configured.find_configured_pod_docker_socket(inv, "containerd")) == [
        ("configured-pod-docker-socket", BREAKS, "ConfigMap/ns/airflow[pod_template_file.yaml]")]


def test_drone_docker_runner_but_not_the_kube_runner_or_a_remote_daemon():
    docker = template("runner", [c(image="drone/drone-runner-docker:1.8")], kind="Deployment")
    kube = template("kube", [c(image="drone/drone-runner-kube:latest")], kind="Deployment")
    remote = template("remote", [c(image="drone/drone-runner-docker:1.8",
                                   env=[{"name": "DOCKER_HOST", "value": "tcp://dind.ci:2375"}])],
                      kind="Deployment")
    found = configured.find_drone_runner_docker(Inventory(templates=[docker, kube, remote]), "containerd")
    assert [f.object for f in found] == ["Deployment/ns/runner/main"]


def test_daemon_json_writers_and_readers():
    writer = template("mirror", [c(volumeMounts=[mount("etc", "/host/etc/docker")])],
                      [hostpath("etc", "/etc/docker")])
    reader = template("audit", [c(volumeMounts=[mount("etc", "/host/etc/docker", readOnly=True)])],
                      [hostpath("etc", "/etc/docker")])
    script = template("script", [c(command=["sh", "-c"], args=[
        "echo '{\"registry-mirrors\":[\"https://m.example\"]}' > /host/etc/docker/daemon.json"])])
    containerd = template("ctrd", [c(volumeMounts=[mount("etc", "/host/etc/containerd")])],
                          [hostpath("etc", "/etc/containerd")])
    found = configured.find_docker_daemon_config(Inventory(templates=[writer, reader, script, containerd]),
                                                  "containerd")
    assert checks(found) == [("docker-daemon-config", BREAKS, "DaemonSet/ns/mirror/main"),
                             ("docker-daemon-config", BREAKS, "DaemonSet/ns/script/main"),
                             ("docker-daemon-config", REVIEW, "DaemonSet/ns/audit/main")]


def test_registry_certs_and_unit_dropins():
    certs = template("certs", [c(volumeMounts=[mount("d", "/certs")])], [hostpath("d", "/etc/docker/certs.d")])
    dropin = template("proxy", [c(volumeMounts=[mount("d", "/units")])],
                      [hostpath("d", "/etc/systemd/system/docker.service.d")])
    ctrd = template("ctrd", [c(volumeMounts=[mount("d", "/units")])],
                    [hostpath("d", "/etc/systemd/system/containerd.service.d")])
    inv = Inventory(templates=[certs, dropin, ctrd])
    assert checks(configured.find_docker_registry_certs(inv, "containerd")) == [
        ("docker-registry-certs", REVIEW, "DaemonSet/ns/certs/main")]
    assert checks(configured.find_docker_unit_dropin(inv, "containerd")) == [
        ("docker-unit-dropin", BREAKS, "DaemonSet/ns/proxy/main")]
    assert configured.find_docker_daemon_config(inv, "containerd") == []     # certs.d is not daemon.json


@pytest.mark.parametrize("script,found", [
    ("nsenter -t 1 -m -u -i -n -- systemctl restart docker", True),
    ("set -e\ncp /cfg/daemon.json /host/etc/docker/\nchroot /host systemctl reload docker.service\n", True),
    ("service docker restart", True),
    ("pkill -HUP dockerd", True),
    ("nsenter -t 1 -m -- systemctl restart containerd", False),
    ("systemctl is-active docker", False),
    ("# systemctl restart docker (no longer needed)\nsystemctl restart containerd", False),
    ("systemctl restart docker-registry", False),
])
def test_docker_service_restarts(script, found):
    t = template(containers=[c(command=["/bin/sh", "-c", script])])
    assert bool(configured.find_docker_service_restart(Inventory(templates=[t]), "containerd")) is found


@pytest.mark.parametrize("script,found", [
    ("nsenter -t 1 -m -u -n -i -- docker ps -q", True),
    ("nsenter --target 1 --mount docker system prune -af", True),
    ("chroot /host docker rm -f old", True),
    ("nsenter -t 1 -m -- sh -c 'docker images -q | xargs docker rmi'", True),
    ("nsenter -t 1 -m -- crictl ps --name docker", False),
    ("chroot /host crictl rmi --prune", False),
])
def test_docker_cli_run_on_the_host(script, found):
    t = template(containers=[c(command=["sh", "-c", script])])
    inv = Inventory(templates=[t])
    assert bool(configured.find_host_docker_command(inv, "containerd")) is found
    if "|" not in script:           # `| xargs docker` is a call the docker-cli rule also sees
        assert rules.docker_cli(inv, "containerd") == []


def test_scripts_from_mounted_config_maps():
    t = template("tuner", [c(command=["/scripts/apply.sh"], volumeMounts=[mount("s", "/scripts")])],
                 [{"name": "s", "configMap": {"name": "tuner-scripts"}}])
    inv = Inventory(templates=[t], config_maps={("ns", "tuner-scripts"): {
        "apply.sh": "#!/bin/sh\nnsenter -t 1 -m -- systemctl restart docker\n"}})
    [found] = configured.find_docker_service_restart(inv, "cri-o")
    assert "ConfigMap tuner-scripts key apply.sh" in found.depends_on and "cri-o" in found.remediation


def test_seccomp_docker_default_annotations_for_review():
    pod_level = template("a", [c()], annotations={configured.SECCOMP_POD: "docker/default"})
    per_container = template("b", [c("app")], annotations={
        "container.seccomp.security.alpha.kubernetes.io/app": "docker/default"})
    runtime_default = template("c", [c()], annotations={configured.SECCOMP_POD: "runtime/default"})
    field = template("d", [c()], securityContext={"seccompProfile": {"type": "RuntimeDefault"}})
    found = configured.find_seccomp_docker_default(
        Inventory(templates=[pod_level, per_container, runtime_default, field]), "containerd")
    assert checks(found) == [("seccomp-docker-default", REVIEW, "DaemonSet/ns/a"),
                             ("seccomp-docker-default", REVIEW, "DaemonSet/ns/b/app")]


def test_apparmor_docker_default_breaks_but_runtime_default_does_not():
    annotation = template("a", [c("app")], annotations={
        "container.apparmor.security.beta.kubernetes.io/app": "localhost/docker-default"})
    field = template("b", [c("app", securityContext={"appArmorProfile": {
        "type": "Localhost", "localhostProfile": "docker-default"}})])
    runtime = template("c", [c("app")], annotations={
        "container.apparmor.security.beta.kubernetes.io/app": "runtime/default"})
    own = template("d", [c("app", securityContext={"appArmorProfile": {
        "type": "Localhost", "localhostProfile": "k8s-nginx"}})])
    found = configured.find_apparmor_docker_default(Inventory(templates=[annotation, field, runtime, own]),
                                                    "containerd")
    assert checks(found) == [("apparmor-docker-default", BREAKS, "DaemonSet/ns/a/app"),
                             ("apparmor-docker-default", BREAKS, "DaemonSet/ns/b/app")]


def test_daemonless_builders_and_docker_words_yield_nothing():
    kaniko = template("kaniko", [c("kaniko", image="gcr.io/kaniko-project/executor:v1.23.2",
                                   args=["--dockerfile=Dockerfile", "--destination=docker.io/acme/app:1"])],
                      kind="Job", restartPolicy="Never")
    buildkit = template("buildkit", [c("docker", image="moby/buildkit:v0.15.1-rootless",
                                       args=["--oci-worker-no-process-sandbox"])], kind="Job")
    named = template("docker-registry", [c("docker", image="docker.io/library/registry:2")],
                     kind="Deployment", imagePullSecrets=[{"name": "dockerhub"}])
    inv = Inventory(templates=[kaniko, buildkit, named])
    assert configured.configured_findings(inv, "containerd") == []


def test_new_agents_in_the_table_and_their_look_alikes():
    table = agents.load()
    assert {a.vendor for a in table if a.cri_ready_since} >= {"Datadog", "New Relic infrastructure agent"}
    vpc_cni = template("aws-node", [c("aws-node", image="602401143452.dkr.ecr.us-west-2.amazonaws.com/"
                                                        "amazon-k8s-cni:v1.5.7")])
    scope = template("weave-scope-agent", [c(image="weaveworks/scope:1.13.2")])
    exporter = template("node-exporter", [c(image="quay.io/prometheus/node-exporter:v1.8.2")])
    found = {f.object: f.severity for f in agents.node_agents(
        Inventory(templates=[vpc_cni, scope, exporter]), "containerd")}
    assert found == {"DaemonSet/ns/aws-node": REVIEW, "DaemonSet/ns/weave-scope-agent": REVIEW}
