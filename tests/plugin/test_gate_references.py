"""The reference analysis: severity from what a mount does and from the chain
that uses it, on products no rule names."""
from __future__ import annotations

import pytest
from crigate.gate import rules, sockets
from crigate.gate.endpoints import landing, references
from crigate.gate.findings import BREAKS, REVIEW, PodTemplate
from crigate.gate.inventory import Inventory
from crigate.gate.podtext import container_texts

CONFIG = {("mon", "probe-config"): {"probe.yaml": "inputs:\n  - kind: containers\n"
                                                  "    endpoint: unix:///hostfs/var/run/docker.sock\n"}}


def pod(volumes, mounts, name="probe", image="example.org/acme/node-probe:3.1", **container) -> PodTemplate:
    spec = {"containers": [{"name": "main", "image": image, "volumeMounts": mounts, **container}],
            "volumes": volumes}
    return PodTemplate("DaemonSet", "mon", name, spec)


def host(name, path, kind=None):
    return {"name": name, "hostPath": {"path": path, **({"type": kind} if kind else {})}}


def found(*templates, config_maps=None):
    inv = Inventory(templates=list(templates), config_maps=config_maps or {})
    return [(f.check, f.severity, f.object) for f in
            sockets.socket_mounts(inv, {"cri_tools": rules.cri_tools("containerd")})
            + sockets.runtime_settings(inv)]


@pytest.mark.parametrize("kind", ["Socket", "File"])
def test_a_typed_socket_mount_breaks_for_certain(kind):
    t = pod([host("sock", "/var/run/docker.sock", kind)], [{"name": "sock", "mountPath": "/var/run/docker.sock"}])
    inv = Inventory(templates=[t])
    [f] = sockets.socket_mounts(inv, {"cri_tools": "crictl"})
    assert (f.severity, f.certainty.split(":")[0]) == (BREAKS, "certain"), f
    assert f"type {kind}" in f.depends_on


def test_a_config_file_naming_the_socket_through_a_root_mount_is_named_with_its_line():
    t = pod([host("root", "/"), {"name": "cfg", "configMap": {"name": "probe-config"}}],
            [{"name": "root", "mountPath": "/hostfs", "readOnly": True},
             {"name": "cfg", "mountPath": "/etc/probe"}])
    inv = Inventory(templates=[t], config_maps=CONFIG)
    findings = sockets.socket_mounts(inv, {"cri_tools": "crictl"})
    [config] = [f for f in findings if f.check == "docker-endpoint-config"]
    assert config.object == "ConfigMap/mon/probe-config[probe.yaml]" and config.severity == BREAKS
    assert "line 3" in config.depends_on and "/etc/probe/probe.yaml" in config.depends_on
    assert "hostPath /var/run/docker.sock" in config.depends_on and "DaemonSet/mon/probe/main" in config.depends_on


def test_the_same_product_pointed_at_containerd_is_clean():
    """The CRI-ready twin: same mounts, its config names containerd's socket."""
    cri = {("mon", "probe-config"): {"probe.yaml": "endpoint: unix:///hostfs/run/containerd/containerd.sock\n"}}
    t = pod([host("root", "/"), {"name": "cfg", "configMap": {"name": "probe-config"}}],
            [{"name": "root", "mountPath": "/hostfs"}, {"name": "cfg", "mountPath": "/etc/probe"}])
    assert found(t, config_maps=cri) == []


def test_docker_and_cri_sockets_both_mounted_is_review():
    t = pod([host("d", "/var/run/docker.sock"), host("c", "/run/containerd/containerd.sock")],
            [{"name": "d", "mountPath": "/var/run/docker.sock"},
             {"name": "c", "mountPath": "/run/containerd/containerd.sock"}])
    assert found(t) == [("docker-socket-mount", REVIEW, "DaemonSet/mon/probe/main")]


def test_an_untyped_mount_nobody_names_is_likely_to_break():
    t = pod([host("d", "/var/run/docker.sock")], [{"name": "d", "mountPath": "/var/run/docker.sock"}])
    inv = Inventory(templates=[t])
    [f] = sockets.socket_mounts(inv, {"cri_tools": "crictl"})
    assert f.severity == BREAKS and f.certainty.startswith("likely")


def test_a_socket_named_inside_the_pod_only_is_no_node_coupling():
    """Docker-in-Docker: the socket lives in an emptyDir the sidecar shares."""
    t = pod([{"name": "run", "emptyDir": {}}], [{"name": "run", "mountPath": "/var/run"}],
            env=[{"name": "DOCKER_HOST", "value": "unix:///var/run/docker.sock"}])
    assert found(t) == []


def test_a_socket_use_in_a_lifecycle_hook_is_found():
    t = pod([host("run", "/run")], [{"name": "run", "mountPath": "/host/run"}],
            lifecycle={"preStop": {"exec": {"command": ["sh", "-c",
                                                        "curl --unix-socket /host/run/docker.sock http://x/v1.41/info"]}}})
    assert ("docker-socket-parent-mount", BREAKS, "DaemonSet/mon/probe/main") in found(t)


def test_the_windows_pipe_is_a_docker_socket():
    t = pod([host("pipe", r"\\.\pipe\docker_engine")], [{"name": "pipe", "mountPath": r"\\.\pipe\docker_engine"}],
            args=["--docker-host=npipe:////./pipe/docker_engine"])
    assert found(t) == [("docker-socket-mount", BREAKS, "DaemonSet/mon/probe/main")]


@pytest.mark.parametrize("text, breaks", [
    ("--container-runtime=docker", True), ("CONTAINER_RUNTIME: docker", True),
    ("runtime = \"dockershim\"", True), ("--container-runtime=containerd", False),
    ("--docker_only=true", False), ("containerRuntimeExecutor: emissary", False),
    ("image: docker.io/library/busybox", False), ("runtime: docker-compose", False),
])
def test_a_setting_that_picks_docker_as_the_runtime(text, breaks):
    cm = {("mon", "probe-config"): {"agent.yaml": text}}
    t = pod([{"name": "cfg", "configMap": {"name": "probe-config"}}], [{"name": "cfg", "mountPath": "/etc/probe"}])
    checks = [c for c, _, _ in found(t, config_maps=cm)]
    assert ("docker-runtime-setting" in checks) is breaks, (text, checks)


@pytest.mark.parametrize("value, breaks", [
    ("tcp://$(NODE_IP):2375", True), ("tcp://172.17.0.1:2376", True),
    ("tcp://docker-builder.ci.svc:2375", False), ("tcp://$(NODE_IP):8080", False),
])
def test_the_nodes_docker_daemon_over_tcp(value, breaks):
    t = pod([], [], args=[f"--engine={value}"],
            env=[{"name": "NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}])
    assert (("docker-tcp-endpoint", BREAKS, "DaemonSet/mon/probe/main") in found(t)) is breaks


def test_every_spelling_of_the_docker_endpoint():
    text = ("unix:///var/run/docker.sock /host/run/docker.sock /rootfs/var/run/dockershim.sock "
            r"npipe:////./pipe/docker_engine \\.\pipe\docker_engine tcp://10.0.0.5:2376 /run/cri-dockerd.sock")
    assert len(references(text)) == 7


def test_a_container_path_lands_through_the_longest_mount():
    t = pod([host("root", "/"), host("run", "/var/run")],
            [{"name": "root", "mountPath": "/host"}, {"name": "run", "mountPath": "/host/var/run"}])
    land = landing(t, t.spec["containers"][0], "/host/var/run/docker.sock")
    assert (land.host_path, land.mount_path) == ("/var/run/docker.sock", "/host/var/run")


def test_texts_cover_hooks_probes_env_from_and_mounted_files():
    t = pod([{"name": "cfg", "configMap": {"name": "probe-config", "items": [{"key": "probe.yaml", "path": "p.yml"}]}}],
            [{"name": "cfg", "mountPath": "/etc/probe"}],
            livenessProbe={"exec": {"command": ["check"]}}, envFrom=[{"configMapRef": {"name": "probe-config"}}])
    origins = [x.origin for x in container_texts(t, t.spec["containers"][0], Inventory(config_maps=CONFIG))]
    assert origins == ["livenessProbe.exec", "env probe.yaml from ConfigMap/mon/probe-config[probe.yaml]",
                       "ConfigMap/mon/probe-config[probe.yaml]"]


def test_a_config_read_through_run_is_the_line_to_change_not_a_fallback():
    """/run holds containerd's socket too, but the file names Docker's: it breaks."""
    cm = {("mon", "probe-config"): {"probe.toml": 'engine = "unix:///host/run/docker.sock"\n'}}
    t = pod([host("run", "/var/run"), {"name": "cfg", "configMap": {"name": "probe-config"}}],
            [{"name": "run", "mountPath": "/host/run"}, {"name": "cfg", "mountPath": "/etc/probe"}])
    assert set(found(t, config_maps=cm)) == {
        ("docker-socket-parent-mount", BREAKS, "DaemonSet/mon/probe/main"),
        ("docker-endpoint-config", BREAKS, "ConfigMap/mon/probe-config[probe.toml]")}


# --------------------------------------------------------- shapes a review of the rules brought up

def test_a_use_through_a_root_or_var_mount_is_found():
    for base, mount_path, arg in (("/", "/host", "unix:///host/var/run/docker.sock"),
                                  ("/var", "/host/var", "unix:///host/var/run/docker.sock")):
        t = pod([host("h", base)], [{"name": "h", "mountPath": mount_path}], args=[f"--engine={arg}"])
        assert ("docker-socket-parent-mount", BREAKS, "DaemonSet/mon/probe/main") in found(t), base


def test_a_cri_socket_named_but_not_mounted_is_no_alternative():
    t = pod([host("d", "/var/run/docker.sock")], [{"name": "d", "mountPath": "/var/run/docker.sock"}],
            args=["--docker=unix:///var/run/docker.sock", "--containerd=/run/containerd/containerd.sock"])
    assert found(t) == [("docker-socket-mount", BREAKS, "DaemonSet/mon/probe/main")]


def test_dockers_own_containerd_is_no_cri_socket():
    t = pod([host("d", "/var/run/docker.sock"), host("c", "/var/run/docker/containerd/containerd.sock")],
            [{"name": "d", "mountPath": "/var/run/docker.sock"},
             {"name": "c", "mountPath": "/var/run/docker/containerd/containerd.sock"}])
    assert found(t) == [("docker-socket-mount", BREAKS, "DaemonSet/mon/probe/main")]


def test_a_commented_out_sample_is_no_use():
    cm = {("mon", "probe-config"): {"probe.conf": '# [[inputs.docker]]\n#   endpoint = "unix:///var/run/docker.sock"\n'}}
    t = pod([host("run", "/var/run"), {"name": "cfg", "configMap": {"name": "probe-config"}}],
            [{"name": "run", "mountPath": "/var/run"}, {"name": "cfg", "mountPath": "/etc/probe"}])
    assert found(t, config_maps=cm) == []


def test_the_nodes_daemon_over_tcp_in_any_env_var():
    t = pod([], [], env=[{"name": "NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                         {"name": "ENGINE_URL", "value": "tcp://$(NODE_IP):2375"}])
    assert ("docker-tcp-endpoint", BREAKS, "DaemonSet/mon/probe/main") in found(t)


def test_cri_dockerds_socket_is_dockers():
    t = pod([host("c", "/run/cri-dockerd.sock", "Socket")], [{"name": "c", "mountPath": "/run/cri-dockerd.sock"}])
    assert found(t) == [("docker-socket-mount", BREAKS, "DaemonSet/mon/probe/main")]


@pytest.mark.parametrize("image, expected", [
    ("gcr.io/datadoghq/agent:7", [("docker-socket-mount", BREAKS)]),       # floating: the version is unknown
    ("gcr.io/datadoghq/agent:7.50.0", [("docker-socket-mount", REVIEW)]),  # ready, but no CRI socket in reach
])
def test_a_ready_agent_is_judged_by_its_own_image_and_its_cri_socket(image, expected):
    t = pod([host("d", "/var/run/docker.sock")], [{"name": "d", "mountPath": "/var/run/docker.sock"}], image=image)
    assert [(c, s) for c, s, _ in found(t)] == expected


def test_a_ready_agent_beside_a_cri_socket_is_its_vendors_setup():
    t = pod([host("d", "/var/run/docker.sock"), host("c", "/run/containerd/containerd.sock")],
            [{"name": "d", "mountPath": "/var/run/docker.sock"},
             {"name": "c", "mountPath": "/run/containerd/containerd.sock"}], image="datadog/agent:7.50.0")
    sidecar_docker_gc = {"name": "gc", "image": "acme/docker-gc:1",
                         "volumeMounts": [{"name": "d", "mountPath": "/var/run/docker.sock"}]}
    t.spec["containers"].append(sidecar_docker_gc)
    assert found(t) == [("docker-socket-mount", BREAKS, "DaemonSet/mon/probe/gc")]


def test_a_dockershim_mount_with_a_cri_socket_beside_is_not_worse():
    alone = pod([host("s", "/var/run/dockershim.sock", "Socket")],
                [{"name": "s", "mountPath": "/var/run/dockershim.sock"}])
    beside = pod([host("s", "/var/run/dockershim.sock", "Socket"), host("c", "/run/containerd/containerd.sock")],
                 [{"name": "s", "mountPath": "/var/run/dockershim.sock"},
                  {"name": "c", "mountPath": "/run/containerd/containerd.sock"}])
    assert [s for _, s, _ in found(alone)] == [BREAKS] and [s for _, s, _ in found(beside)] == [REVIEW]


@pytest.mark.parametrize("text", [
    "runtime:\n  docker:\n    enabled: false\n  containerd:\n    enabled: true",
    "# the runtime docker used before", "supported runtime docker or containerd",
    "runtime: docker/compose", "--runtime=docker,containerd", "python_runtime: docker",
])
def test_what_is_not_a_setting_that_picks_docker(text):
    cm = {("mon", "probe-config"): {"agent.yaml": text}}
    t = pod([{"name": "cfg", "configMap": {"name": "probe-config"}}], [{"name": "cfg", "mountPath": "/etc/probe"}])
    assert "docker-runtime-setting" not in [c for c, _, _ in found(t, config_maps=cm)], text


def test_every_format_says_how_certain_a_finding_is(tmp_path):
    import json

    from tests.plugin.test_gate_cli import SOCKET_DS, gate
    manifest = tmp_path / "agent.yaml"
    manifest.write_text(SOCKET_DS.replace("hostPath: {path: /var/run/docker.sock}",
                                          "hostPath: {path: /var/run/docker.sock, type: Socket}"))
    for fmt, probe in (("text", "certainty: certain"), ("json", None), ("sarif", "Certainty: certain"),
                       ("junit", "Certainty: certain"), ("markdown", "(certainty: certain")):
        done = gate("--manifests", str(manifest), "-o", fmt, "--report-dir", str(tmp_path / fmt))
        assert done.returncode == 1, done.stderr
        if probe:
            assert probe in done.stdout, (fmt, done.stdout[-1500:])
        else:
            assert json.loads(done.stdout)["findings"][0]["certainty"].startswith("certain"), done.stdout


def test_odd_field_types_in_what_a_container_reads_crash_nothing():
    t = pod([{"name": "cfg", "configMap": {"name": "probe-config", "items": "probe.yaml"}}],
            [{"name": "cfg", "mountPath": "/etc/probe"}], env=["DOCKER_HOST"], envFrom=["x"],
            lifecycle={"preStop": {"exec": {"command": "docker ps"}}})
    assert container_texts(t, t.spec["containers"][0], Inventory(config_maps=CONFIG))
