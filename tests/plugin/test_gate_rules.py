"""The gate's rules on API-shaped objects: what must be found, and the look-alikes
that must not. (The same cases run against real clusters in tests/testbed/test_gate.py.)"""
from __future__ import annotations

import pytest
from crigate.gate import agents, logconfig, rules, sockets
from crigate.gate.findings import BREAKS, REVIEW, PodTemplate
from crigate.gate.inventory import Inventory, pod_templates, templates_from
from crigate.gate.shell import command_calls, docker_calls


def template(name="w", containers=(), volumes=(), kind="Deployment", **spec) -> PodTemplate:
    return PodTemplate(kind, "ns", name, {"containers": list(containers), "volumes": list(volumes), **spec})


def c(name="main", **fields) -> dict:
    return {"name": name, "image": "busybox", **fields}


def mount(volume, path="/m", **extra):
    return {"name": volume, "mountPath": path, **extra}


def hostpath(volume, path):
    return {"name": volume, "hostPath": {"path": path}}


def socket_mounts(inv: Inventory, runtime: str):
    return sockets.socket_mounts(inv, {"cri_tools": rules.cri_tools(runtime)})


def inventory(*templates, config_maps=None, **extra) -> Inventory:
    return Inventory(templates=list(templates), config_maps=config_maps or {}, **extra)


@pytest.mark.parametrize("path,check,severity", [
    ("/var/run/docker.sock", "docker-socket-mount", BREAKS),
    ("/run/docker.sock", "docker-socket-mount", BREAKS),
    ("/var/run/dockershim.sock", "docker-socket-mount", BREAKS),
])
def test_socket_mounts_found(path, check, severity):
    t = template(containers=[c(volumeMounts=[mount("v")])], volumes=[hostpath("v", path)])
    [finding] = socket_mounts(inventory(t), "containerd")
    assert (finding.check, finding.severity) == (check, severity)
    assert "containerd.sock" in finding.remediation


def test_parent_mount_breaks_when_the_container_uses_the_socket():
    t = template(containers=[c(args=["--docker=unix:///host/run/docker.sock"],
                               volumeMounts=[mount("v", "/host/run")])],
                 volumes=[hostpath("v", "/var/run")])
    [finding] = socket_mounts(inventory(t), "cri-o")
    assert finding.severity == BREAKS and "crio.sock" in finding.remediation


@pytest.mark.parametrize("path", ["/run/containerd/containerd.sock", "/var/run/netns",
                                  "/run/xtables.lock", "/var/log/pods", "/", "/var/run", "/run/"])
def test_socket_look_alikes_not_found(path):
    t = template(containers=[c(volumeMounts=[mount("v")])], volumes=[hostpath("v", path)])
    assert socket_mounts(inventory(t), "containerd") == []


def test_subpath_narrows_a_parent_mount_to_the_socket():
    t = template(containers=[c(volumeMounts=[mount("v", subPath="docker.sock")])],
                 volumes=[hostpath("v", "/var/run")])
    [finding] = socket_mounts(inventory(t), "containerd")
    assert finding.check == "docker-socket-mount"


def test_docker_data_mounts():
    """Typed: the pod never starts; read through a path: breaks; alone: review; beside
    the kubelet's log directories: the /var/log/containers links' leftover, nothing."""
    typed = template("typed", [c(volumeMounts=[mount("v")])],
                     [{"name": "v", "hostPath": {"path": "/var/lib/docker/containers", "type": "Directory"}}])
    used = template("used", [c(volumeMounts=[mount("v", "/docker")], args=["--path=/docker/containers/*/*.log"])],
                    [hostpath("v", "/var/lib/docker")])
    alone = template("alone", [c(volumeMounts=[mount("v")])], [hostpath("v", "/var/lib/docker/containers")])
    leftover = template("leftover", [c(volumeMounts=[mount("v"), mount("logs", "/var/log")])],
                        [hostpath("v", "/var/lib/docker/containers"), hostpath("logs", "/var/log")])
    clean = template("b", [c(volumeMounts=[mount("v")])], [hostpath("v", "/var/lib/dockerish")])
    found = sockets.data_mounts(inventory(typed, used, alone, leftover, clean), {"cri_tools": "crictl"})
    assert [(f.object, f.severity) for f in found] == [
        ("Deployment/ns/typed/main", BREAKS), ("Deployment/ns/used/main", BREAKS),
        ("Deployment/ns/alone/main", REVIEW)]


def test_docker_env_direct_and_from_config_map_but_not_with_dind():
    direct = template("direct", [c(env=[{"name": "DOCKER_HOST", "value": "tcp://1.2.3.4:2375"}])])
    via_cm = template("via-cm", [c(envFrom=[{"configMapRef": {"name": "env"}}])])
    dind = template("dind", [c(env=[{"name": "DOCKER_HOST", "value": "tcp://localhost:2375"}]),
                             c("daemon", image="docker:24-dind")])
    other = template("other", [c(env=[{"name": "DOCKERFILE", "value": "x"}])])
    found = rules.docker_env(inventory(direct, via_cm, dind, other,
                                       config_maps={("ns", "env"): {"DOCKER_HOST": "tcp://x"}}),
                             "containerd")
    assert sorted(f.object for f in found) == ["Deployment/ns/direct/main", "Deployment/ns/via-cm/main"]


SCRIPT = """#!/bin/sh
# docker ps was used here once
set -e
echo "docker"
if true; then sudo docker rm -f x; fi
"""


def test_docker_calls_in_scripts_not_mentions():
    assert docker_calls(SCRIPT) == ["if true; then sudo docker rm -f x; fi"]
    assert docker_calls("image=docker.io/library/registry:2\ndocker-registry serve\n") == []
    assert docker_calls("cat img.tar | docker load") == ["cat img.tar | docker load"]
    assert command_calls(["sh", "-c"], ["docker build . && docker push x"])
    assert command_calls(["/usr/bin/docker"], ["ps"]) == ["/usr/bin/docker ps"]
    assert command_calls(["registry"], ["serve", "/etc/docker/registry/config.yml"]) == []


def test_docker_cli_in_mounted_script_config_map():
    t = template("job", [c(command=["/s/run.sh"], volumeMounts=[mount("s")])],
                 [{"name": "s", "configMap": {"name": "scripts"}}])
    clean = template("clean", [c(command=["/s/run.sh"], volumeMounts=[mount("s")])],
                     [{"name": "s", "configMap": {"name": "migrated"}}])
    inv = inventory(t, clean, config_maps={("ns", "scripts"): {"run.sh": SCRIPT},
                                           ("ns", "migrated"): {"run.sh": "#!/bin/sh\n# docker\ncrictl ps\n"}})
    [finding] = rules.docker_cli(inv, "containerd")
    assert finding.object == "Deployment/ns/job/main" and "scripts key run.sh" in finding.depends_on


@pytest.mark.parametrize("text,found", [
    ("[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    Parser docker\n", True),
    ("[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    Docker_Mode On\n", True),
    ("[INPUT]\n    Name tail\n    Path /var/lib/docker/containers/*/*.log\n", True),
    ("[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    multiline.parser docker, cri\n", False),
    ("[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    Parser cri\n", False),
    ("[PARSER]\n    Name docker\n    Format json\n", False),
    ("# Parser docker was replaced\n[INPUT]\n    Name tail\n    Path /var/log/pods/*/*/*.log\n    Parser cri\n", False),
    ("pipeline:\n  inputs:\n    - name: tail\n      path: /var/log/containers/*.log\n      parser: docker\n", True),
    ("<source>\n  @type tail\n  path /var/log/containers/*.log\n"
     "  <parse>\n    @type json\n  </parse>\n</source>", True),
    ("<source>\n  @type tail\n  path /var/log/containers/*.log\n  format json\n</source>", True),
    ("<source>\n  @type tail\n  path /var/log/containers/*.log\n"
     "  <parse>\n    @type cri\n  </parse>\n</source>", False),
    ("<source>\n  @type tail\n  path /var/log/app.log\n  format json\n</source>", False),
])
def test_log_shipper_configs(text, found):
    assert bool(logconfig.problems(text)) is found


def test_node_agents_from_the_table():
    table = agents.load()
    assert all(a.source.startswith("https://") for a in table)
    flame = template("profiler", [c(image="verizondigital/kubectl-flame:v0.2.4-jvm")], kind="DaemonSet")
    datadog = template("dd", [c(image="gcr.io/datadoghq/agent:7.21.1")], kind="DaemonSet")
    signalfx = template("agent", [c(image="quay.io/signalfx/signalfx-agent:5.0",
                                    args=["--monitor=docker-container-stats"])], kind="DaemonSet")
    exporter = template("node-exporter", kind="DaemonSet")
    found = {f.object: f.severity for f in agents.node_agents(
        inventory(flame, datadog, signalfx, exporter), "containerd")}
    assert found == {"DaemonSet/ns/profiler": BREAKS, "DaemonSet/ns/dd": REVIEW,
                     "DaemonSet/ns/agent": BREAKS}


@pytest.mark.parametrize("image, reported", [
    ("602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.10.1-eksbuild.1", True),  # no ready version
    ("602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.5.7", True),
    ("amazon/amazon-k8s-cni:latest", True),                     # the tag does not say
    ("public.ecr.aws/aws-ec2/aws-node-termination-handler:v1.16.0", False),   # not the VPC CNI
    ("datadog/agent:7.40.1", False), ("datadog/agent:6.19.0", True),
    ("example.com/team/datadog-agent-exporter:1.0", False),     # a name, not the agent's repository
])
def test_agents_are_matched_by_image_repository_and_version(image, reported):
    t = template("aws-node", [c(image=image)], kind="DaemonSet")
    found = agents.node_agents(inventory(t), "containerd")
    assert bool(found) is reported, (image, [f.depends_on for f in found])


FALCO = "falcosecurity/falco-no-driver:0.32.1"      # agents.toml knows no CRI-ready version of it


@pytest.mark.parametrize("args, mounted, reported", [
    # the CRI socket named under the program's host-root prefix (Falco's HOST_ROOT=/host): set for CRI
    (["--cri", "/run/containerd/containerd.sock"],
     [("crisock", "/run/containerd/containerd.sock", "/host/run/containerd/containerd.sock")], False),
    # named where it is mounted
    (["--cri", "/var/run/crio/crio.sock"], [("crisock", "/var/run/crio/crio.sock", "/var/run/crio/crio.sock")], False),
    # mounted but not named: which socket it reads is the program's choice
    ([], [("crisock", "/run/containerd/containerd.sock", "/host/run/containerd/containerd.sock")], True),
    # named but not mounted: nothing to reach
    (["--cri", "/run/containerd/containerd.sock"], [], True),
    # Docker's named too
    (["--cri", "/run/containerd/containerd.sock", "--docker", "/host/var/run/docker.sock"],
     [("crisock", "/run/containerd/containerd.sock", "/host/run/containerd/containerd.sock"),
      ("dockersock", "/var/run/docker.sock", "/host/var/run/docker.sock")], True),
])
def test_an_agent_already_pointed_at_a_cri_socket_is_not_reviewed(args, mounted, reported):
    t = template("falco", [c(image=FALCO, args=args, volumeMounts=[mount(v, at) for v, _, at in mounted])],
                 [hostpath(v, path) for v, path, _ in mounted], kind="DaemonSet")
    found = agents.node_agents(inventory(t), "containerd", set_for_cri=sockets.set_for_cri)
    assert bool(found) is reported, [f.depends_on for f in found]


def node(name, runtime="docker://20.10.17", annotations=None, handlers=None) -> dict:
    status = {"nodeInfo": {"containerRuntimeVersion": runtime}}
    if handlers is not None:
        status["runtimeHandlers"] = [{"name": h} for h in handlers]
    return {"metadata": {"name": name, "annotations": annotations or {}}, "status": status}


def test_runtime_class_handlers_from_node_status_and_node_checks():
    classes = [{"metadata": {"name": "gpu"}, "handler": "nvidia"},
               {"metadata": {"name": "kata"}, "handler": "kata"}]
    inv = inventory(runtime_classes=classes, nodes=[node("n1", "containerd://2.0", handlers=["", "nvidia"])])
    found = [(f.object, f.severity) for f in rules.gpu_runtime(inv, "containerd")]
    assert found == [("RuntimeClass/kata", BREAKS)]
    unknown = inventory(runtime_classes=classes, nodes=[node("n1")])
    assert {f.severity for f in rules.gpu_runtime(unknown, "containerd")} == {REVIEW}
    assert [f.object for f in rules.gpu_runtime(unknown, "containerd", {"n1": {"runc", "nvidia"}})
            if f.severity == BREAKS] == ["RuntimeClass/kata"]


def test_gpu_pods_that_relied_on_dockers_default_runtime():
    env_only = template("env", [c(env=[{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}])])
    with_class = template("rc", [c(env=[{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}])],
                          runtimeClassName="nvidia")
    requests = template("req", [c(resources={"limits": {"nvidia.com/gpu": 1}})])
    on_docker = inventory(env_only, with_class, requests, nodes=[node("n1")])
    assert sorted(f.object for f in rules.gpu_runtime(on_docker, "containerd")) == [
        "Deployment/ns/env/main", "Deployment/ns/req/main"]
    on_containerd = inventory(env_only, with_class, requests, nodes=[node("n1", "containerd://1.7")])
    assert [f.object for f in rules.gpu_runtime(on_containerd, "containerd")] == ["Deployment/ns/env/main"]


def test_node_runtime_facts():
    nodes = [node("old", annotations={rules.KUBEADM_CRI_ANNOTATION: "/var/run/dockershim.sock"}),
             node("new", "containerd://1.7",
                  {rules.KUBEADM_CRI_ANNOTATION: "unix:///run/containerd/containerd.sock"})]
    found = {f.check: f for f in rules.node_runtime(inventory(nodes=nodes), "containerd")}
    assert found["kubeadm-cri-socket"].object == "Node/old"
    cri_dockerd = node("shim", annotations={rules.KUBEADM_CRI_ANNOTATION: "unix:///run/cri-dockerd.sock"})
    assert [f.object for f in rules.node_runtime(inventory(nodes=[cri_dockerd]), "containerd")
            if f.check == "kubeadm-cri-socket"] == ["Node/shim"]
    assert found["docker-nodes"].object == "1 of 2 nodes" and found["docker-nodes"].severity == REVIEW


def test_templates_cover_every_workload_once():
    rs_of_deployment = {"metadata": {"name": "d-1", "namespace": "ns",
                                     "ownerReferences": [{"kind": "Deployment"}]}, "spec": {}}
    orphan = {"metadata": {"name": "o", "namespace": "ns"}, "spec": {"template": {"spec": {"containers": []}}}}
    assert [t.name for t in templates_from("ReplicaSet", [rs_of_deployment, orphan],
                                           ("spec", "template", "spec"))] == ["o"]
    pods = [{"metadata": {"name": "p1", "namespace": "ns", "ownerReferences": [{"kind": "ReplicaSet"}]}},
            {"metadata": {"name": "bare", "namespace": "ns"}},
            {"metadata": {"name": "etcd-n1", "namespace": "kube-system",
                          "annotations": {"kubernetes.io/config.mirror": "x"},
                          "ownerReferences": [{"kind": "Node"}]}}]
    assert [(t.kind, t.name) for t in pod_templates(pods)] == [("Pod", "bare"), ("StaticPod", "etcd-n1")]


def test_kubelet_endpoint_on_docker_from_configz():
    # configz as a 1.27+ kubelet serves it; the endpoint as a cri-dockerd node has it
    configz = {"containerRuntimeEndpoint": "unix:///var/run/cri-dockerd.sock", "cgroupDriver": "systemd"}
    inv = inventory(nodes=[node("n1", "docker://24.0.7"), node("n2", "containerd://1.7")],
                    kubelet_configs={"n1": configz,
                                     "n2": {"containerRuntimeEndpoint": "unix:///run/containerd/containerd.sock"}})
    found = [f for f in rules.node_runtime(inv, "containerd") if f.check == "kubelet-runtime-endpoint"]
    assert [f.object for f in found] == ["Node/n1"] and "containerd.sock" in found[0].remediation


def test_node_state_findings_are_for_review():
    from crigate.gate.nodecheck import facts_findings
    found = facts_findings("n1", {"docker_sockets": ["/var/run/docker.sock"], "docker_container_log_dirs": 12,
                                  "daemon_json": False, "runtime_config": "docker"})
    assert [(f.check, f.severity) for f in found] == [("docker-on-node", REVIEW), ("docker-logs-on-node", REVIEW)]
    assert facts_findings("n2", {"docker_sockets": [], "docker_container_log_dirs": 0,
                                 "daemon_json": False, "runtime_config": "containerd"}) == []


def docker_host_inventory(value: str, node_ip: str = "10.0.0.7") -> Inventory:
    spec = {"containers": [{"name": "build", "image": "docker:27-cli",
                            "env": [{"name": "DOCKER_HOST", "value": value}]}]}
    return Inventory(templates=[PodTemplate("Deployment", "ci", "builder", spec)],
                     nodes=[{"metadata": {"name": "n1"},
                             "status": {"addresses": [{"type": "InternalIP", "address": node_ip}]}}])


@pytest.mark.parametrize("value, check, severity", [
    ("tcp://dind.ci.svc:2375", "docker-remote-daemon", REVIEW),     # a DinD Service: not the node
    ("tcp://10.0.0.7:2375", "docker-env", BREAKS),                 # a node's own address
    ("tcp://$(HOST_IP):2375", "docker-env", BREAKS),                # resolved per node
    ("unix:///var/run/docker.sock", "docker-env", BREAKS),
])
def test_docker_host_remote_only_when_it_is_no_node(value, check, severity):
    (found,) = rules.docker_env(docker_host_inventory(value), "containerd")
    assert (found.check, found.severity) == (check, severity)
