"""Shapes a blind test found the gate missing (products its authors had not
read, written from their public docs by someone who had not read the gate),
each judged by what makes it break: a pod described by a custom resource, an
Elastic Agent stream, an unknown shipper decoding CRI lines as JSON, and one
object defined twice across the files given. Names below are made up."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import yaml
from crigate.gate import customresources, engine, logconfig, manifests
from crigate.gate.audit import manifests_audit
from crigate.gate.customresources import pod_describing_resources
from crigate.gate.findings import BREAKS, REVIEW, Finding
from crigate.gate.inventory import CRDS, Inventory, ReadFailed
from crigate.gate.suppress import Suppression
from crigate.gate.verdict import Kind

# a CI system's task kind (Tekton's shape: steps with a script, volumes beside them)
BUILD_TASK = """\
apiVersion: ci.example.org/v1
kind: BuildTask
metadata: {name: image-publish, namespace: ci}
spec:
  steps:
  - name: publish
    image: example.org/tools/docker-cli:24
    script: |
      docker build -t registry.example.org/app:$(git rev-parse HEAD) .
      docker push registry.example.org/app
    volumeMounts: [{name: engine, mountPath: /var/run/docker.sock}]
  volumes:
  - name: engine
    hostPath: {path: /var/run/docker.sock, type: Socket}
"""
# its CRI-ready twin: a Docker daemon in a sidecar, reached over the pod's loopback
BUILD_TASK_DIND = BUILD_TASK.split("  steps:")[0] + """\
  steps:
  - name: publish
    image: example.org/tools/docker-cli:24
    env: [{name: DOCKER_HOST, value: "tcp://localhost:2376"}]
    script: docker build -t registry.example.org/app . && docker push registry.example.org/app
  sidecars:
  - name: engine
    image: example.org/tools/docker-dind:24
    securityContext: {privileged: true}
"""
# a workflow kind whose templates hold one unnamed container each (Argo's shape)
WORKFLOW = """\
apiVersion: flows.example.org/v1
kind: FlowTemplate
metadata: {name: nightly, namespace: batch}
spec:
  templates:
  - name: prune
    container:
      image: example.org/tools/docker-cli:24
      command: [docker, system, prune, -af]
      volumeMounts: [{name: run, mountPath: /host/run}]
  volumes: [{name: run, hostPath: {path: /var/run}}]
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: buildtasks.ci.example.org}
spec:
  group: ci.example.org
  names: {kind: BuildTask, plural: buildtasks}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            properties:
              steps:
                items:
                  properties:
                    image: {type: string}
                    name: {type: string}
"""


def verdict_of(tmp_path, *files: tuple[str, str]):
    paths = []
    for name, text in files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(str(path))
    return engine.decide(manifests_audit(manifests.read_objects(paths), []), "containerd")


def checks(verdict) -> set[tuple[str, str, str]]:
    return {(f.check, f.severity, f.object) for f in verdict.findings}


def test_a_custom_resource_that_describes_a_pod_is_read_as_one(tmp_path):
    verdict = verdict_of(tmp_path, ("task.yaml", BUILD_TASK))
    assert verdict.kind is Kind.NO_GO
    assert ("docker-socket-mount", BREAKS, "BuildTask/ci/image-publish/publish") in checks(verdict)
    assert any(f.check == "docker-cli" for f in verdict.findings), checks(verdict)
    assert any("read as pods: the containers inside BuildTask/ci/image-publish" in n for n in verdict.notes)
    assert verdict.findings[0].location.endswith("task.yaml:1")


def test_its_twin_with_a_docker_daemon_in_a_sidecar_is_go(tmp_path):
    verdict = verdict_of(tmp_path, ("task.yaml", BUILD_TASK_DIND))
    assert verdict.kind is Kind.GO, checks(verdict)


def test_an_unnamed_container_of_a_template_takes_the_templates_name(tmp_path):
    verdict = verdict_of(tmp_path, ("flow.yaml", WORKFLOW))
    assert verdict.kind is Kind.NO_GO
    assert {f.object for f in verdict.findings} >= {"FlowTemplate/batch/nightly/prune"}, checks(verdict)


def test_a_schema_that_names_image_is_no_pod(tmp_path):
    verdict = verdict_of(tmp_path, ("crd.yaml", CRD))
    assert verdict.kind is Kind.GO and not verdict.findings
    assert not any("read as pods" in n for n in verdict.notes)


def test_a_pod_shape_with_fields_of_other_types_is_a_note_not_a_verdict(tmp_path):
    """The kind is not known to hold pods, so a mapping shaped like one whose
    fields have other types (a Helm values block, a policy's test data) is
    named in a note, and the rest of the run decides."""
    hostile = BUILD_TASK.replace("volumeMounts: [{name: engine, mountPath: /var/run/docker.sock}]",
                                 "volumeMounts: /var/run/docker.sock")
    verdict = verdict_of(tmp_path, ("task.yaml", hostile))
    assert verdict.kind is not Kind.UNDECIDED and not verdict.unread, verdict.unread
    assert any("not read as a pod" in n and "BuildTask/ci/image-publish" in n and "volumeMounts" in n
               for n in verdict.notes), verdict.notes


AGENT_POLICY = """\
inputs:
  - id: container-logs
    type: {input_type}
    streams:
      - id: container-logs-${{kubernetes.container.id}}
        paths: ['/var/log/containers/*${{kubernetes.container.id}}.log']
{parsing}
"""


@pytest.mark.parametrize("input_type, parsing, check", [
    ("filestream", "        parsers:\n          - container: {stream: all, format: docker}", "filebeat-docker-format"),
    ("logfile", "        json.keys_under_root: true\n        json.message_key: log", "filebeat-json-decoding"),
    ("filestream", "        parsers:\n          - container: {stream: all, format: auto}", None),
    ("filestream", "        parsers:\n          - container: {stream: all}\n          - ndjson: {target: app}", None),
])
def test_an_elastic_agent_stream_is_an_input_of_its_inputs_type(input_type, parsing, check):
    text = AGENT_POLICY.format(input_type=input_type, parsing=parsing)
    assert [p.check for p in logconfig.problems(text)] == ([check] if check else [])


@pytest.mark.parametrize("config, severity", [
    # an unknown shipper's TOML taking Docker's keys from JSON lines: breaks
    ('[input]\npaths = ["/var/log/containers/*.log"]\ndecoder = "json"\nmessage_field = "log"\n', BREAKS),
    # JSON decoding named, Docker's keys not: for review
    ('{"watch": ["/var/log/pods/*/*/*.log"], "line_format": "json"}', REVIEW),
    # INI, the decoder behind a colon
    ("[tail]\nglob: /var/log/containers/*.log\nparser: ndjson\ntimestamp_key: time\n", BREAKS),
])
def test_an_unknown_shipper_decoding_cri_lines_as_json(config, severity):
    [problem] = logconfig.problems(config)
    assert (problem.check, problem.severity) == ("json-decoded-container-logs", severity), problem


@pytest.mark.parametrize("config", [
    '[input]\npaths = ["/var/log/containers/*.log"]\ndecoder = "cri"\n',           # CRI parsing
    '[input]\npaths = ["/var/log/pods/*/*/*.log"]\nformat = "containerd"\n'
    '[output]\nencoding.codec = "json"\n',                                         # JSON written, not read
    '[input]\npaths = ["/var/log/containers/*.log"]\nregex = "^(?P<time>\\\\S+) (?P<stream>stdout|stderr) '
    '(?P<tag>[PF]) (?P<msg>.*)$"\n[transform]\ndecoder = "json"\nsource = "msg"\n',   # CRI regex, then JSON
    '# paths = ["/var/log/containers/*.log"] with decoder = "json" was the Docker setup\n'
    'paths = ["/var/log/app/*.log"]\ndecoder = "json"\n',                          # not container logs
])
def test_what_an_unknown_shipper_does_right_is_not_a_problem(config):
    assert logconfig.problems(config) == []


def test_an_unknown_config_naming_dockers_log_directory_is_for_review_and_its_json_files_break():
    [problem] = logconfig.problems('exclude = ["/var/lib/docker/containers"]\n')
    assert (problem.check, problem.severity) == ("docker-log-path", REVIEW)
    [problem] = logconfig.problems('glob: "{{node_root}}/var/lib/docker/containers/*/*-json.log"\ndecode: jsonline\n')
    assert (problem.check, problem.severity) == ("docker-log-path", BREAKS)


COUPLED_RENDER = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: agent-config, namespace: logs}
data:
  agent.toml: |
    paths = ["/var/log/containers/*.log"]
    decoder = "json"
    message_field = "log"
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: logs}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: example.org/agent:2
        volumeMounts: [{name: config, mountPath: /etc/agent}, {name: logs, mountPath: /var/log}]
      volumes:
      - {name: config, configMap: {name: agent-config}}
      - {name: logs, hostPath: {path: /var/log}}
"""
CLEAN_RENDER = COUPLED_RENDER.replace('decoder = "json"', 'decoder = "cri"').replace(
    'message_field = "log"', 'message_field = "message"')


@pytest.mark.parametrize("order", ["coupled first", "clean first"])
def test_an_object_defined_two_ways_is_read_both_ways_whatever_the_order(tmp_path, order):
    renders = [("old/agent.yaml", COUPLED_RENDER), ("new/agent.yaml", CLEAN_RENDER)]
    verdict = verdict_of(tmp_path, *(renders if order == "coupled first" else renders[::-1]))
    assert verdict.kind is Kind.NO_GO
    [finding] = verdict.findings
    assert finding.check == "json-decoded-container-logs"
    assert finding.location.startswith(str(tmp_path / "old/agent.yaml"))
    # the DaemonSet read with its own render's ConfigMap: the coupled one's user is named
    assert "used by DaemonSet/logs/agent" in finding.object
    [said] = [n for n in verdict.notes if "defined 2 ways" in n]     # the DaemonSets are the same
    assert said.startswith("ConfigMap/logs/agent-config") and "old/agent.yaml" in said and "new/agent.yaml" in said


def test_an_object_given_twice_the_same_way_is_read_once(tmp_path):
    verdict = verdict_of(tmp_path, ("a/agent.yaml", COUPLED_RENDER), ("b/agent.yaml", COUPLED_RENDER))
    assert len(verdict.findings) == 1 and not any("ways" in n for n in verdict.notes)


def crd(group: str, plural: str, schema: dict | None, scope: str = "Namespaced") -> dict:
    version = {"name": "v1", "served": True, "storage": True}
    if schema is not None:
        version["schema"] = {"openAPIV3Schema": schema}
    return {"spec": {"group": group, "names": {"plural": plural, "kind": plural.title()},
                     "scope": scope, "versions": [version]}}


def test_which_custom_resources_may_describe_pods_is_read_from_their_schemas():
    kept_unknown = {"type": "object", "properties": {"spec": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}}}
    with_containers = {"type": "object", "properties": {"spec": {"properties": {"runners": {
        "type": "array", "items": {"properties": {"image": {"type": "string"},
                                                  "command": {"type": "array"}}}}}}}}
    image_alone = {"type": "object", "properties": {"spec": {"properties": {
        "image": {"type": "string"}, "replicas": {"type": "integer"}}}}}
    image_object = {"type": "object", "properties": {"spec": {"properties": {
        "image": {"type": "object", "properties": {"repository": {"type": "string"}}},
        "name": {"type": "string"}}}}}
    found = pod_describing_resources([
        crd("ci.example.org", "buildtasks", kept_unknown),
        crd("ops.example.org", "runnersets", with_containers, scope="Cluster"),
        crd("db.example.org", "databases", image_alone),
        crd("apps.example.org", "charts", image_object),
        crd("old.example.org", "legacies", None),          # no schema: anything goes
    ])
    assert [(r.path(), r.namespaced) for r in found] == [
        ("/apis/ci.example.org/v1/buildtasks", True), ("/apis/ops.example.org/v1/runnersets", False),
        ("/apis/old.example.org/v1/legacies", True)]


def daemonset(name: str, env: dict[str, str], mounts: list[tuple[str, str, str]], **container) -> str:
    """A DaemonSet of one container: env, and (volume, host path, mount path) hostPath mounts."""
    spec = {"containers": [{"name": "agent", "image": f"example.org/{name}:1",
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                            "volumeMounts": [{"name": v, "mountPath": at} for v, _, at in mounts], **container}],
            "volumes": [{"name": v, "hostPath": {"path": path}} for v, path, _ in mounts]}
    return json.dumps({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "ops"},
                       "spec": {"selector": {"matchLabels": {"app": name}},
                                "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}})


VAR_RUN = [("run", "/var/run", "/var/run")]


@pytest.mark.parametrize("env, mounts, expected", [
    # a CI agent told its backend is Docker, whose client finds the node's socket by default through /var/run
    ({"KESTREL_BACKEND": "docker"}, VAR_RUN, {("docker-runtime-setting", BREAKS)}),
    ({"SENSOR_ENGINE_KIND": "dockerd"}, [("root", "/run", "/run")], {("docker-runtime-setting", BREAKS)}),
    # the same setting where nothing of the node is mounted: its own engine, or none
    ({"KESTREL_BACKEND": "docker"}, [], set()),
    # the value names a CRI runtime
    ({"KESTREL_BACKEND": "containerd"}, VAR_RUN, set()),
    # Docker's socket named too, but the product is told to use the CRI runtime in reach: for review
    ({"SENSOR_RUNTIME": "cri", "SENSOR_DOCKER_ADDRESS": "/var/run/docker.sock"}, VAR_RUN,
     {("docker-socket-parent-mount", REVIEW)}),
    # a key that does not say it picks the engine picks nothing, either way
    ({"SENSOR_TYPE": "cri", "SENSOR_DOCKER_ADDRESS": "/var/run/docker.sock"}, VAR_RUN,
     {("docker-socket-parent-mount", BREAKS)}),
    ({"REGISTRY_TYPE": "docker"}, VAR_RUN, set()),
    # ... and told nothing: the socket is used
    ({"SENSOR_TYPE": "daemonset", "SENSOR_DOCKER_ADDRESS": "/var/run/docker.sock"}, VAR_RUN,
     {("docker-socket-parent-mount", BREAKS)}),
])
def test_a_setting_that_picks_the_engine_by_any_name(tmp_path, env, mounts, expected):
    verdict = verdict_of(tmp_path, ("agent.yaml", daemonset("kestrel", env, mounts)))
    assert {(f.check, f.severity) for f in verdict.findings} == expected, checks(verdict)


def test_a_script_held_in_env_is_read_as_what_the_pod_runs(tmp_path):
    script = ("cfg=/etc/docker/daemon.json\njq '.\"insecure-registries\" += [\"$ADDRESS\"]' \"$cfg\" > /tmp/d\n"
              "cp /tmp/d \"$cfg\"\nsystemctl restart docker\n")
    coupled = daemonset("node-setup", {"NODE_SETUP_SCRIPT": script}, [], securityContext={"privileged": True})
    verdict = verdict_of(tmp_path, ("setup.yaml", coupled))
    assert ("docker-service-restart", BREAKS) in {(f.check, f.severity) for f in verdict.findings}
    pruning = daemonset("node-prune", {"PRUNE_COMMAND": "docker system prune -af --volumes"}, [],
                        securityContext={"privileged": True})
    assert ("docker-cli", BREAKS) in {(f.check, f.severity) for f in verdict_of(tmp_path, ("p.yaml", pruning)).findings}
    # a CI runner's pre-build script runs in the job pods it starts, not on this pod's node
    runner = daemonset("runner", {"RUNNER_PRE_BUILD_SCRIPT": "docker login -u ci registry.example.org"}, [])
    assert not verdict_of(tmp_path, ("r.yaml", runner)).findings
    clean = coupled.replace("systemctl restart docker", "systemctl restart containerd").replace(
        "/etc/docker/daemon.json", "/etc/containerd/config.toml")
    assert not verdict_of(tmp_path, ("setup.yaml", clean)).findings


RUNNER_SPEC = """\
apiVersion: runners.example.org/v1
kind: RunnerPool
metadata: {name: builders, namespace: ci}
spec:
  template:
    spec:
      repository: acme/app
      env: [{name: RUNNER_EPHEMERAL, value: "true"}]
      volumeMounts: [{name: engine, mountPath: /var/run/docker.sock}]
      volumes: [{name: engine, hostPath: {path: /var/run/docker.sock}}]
"""
POD_PATCH = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: job-controller, namespace: ci}
data:
  config.yaml: |
    queue: builds
    job-pod-patch:
      containers:
        - name: step
          volumeMounts: [{name: engine, mountPath: /var/run/docker.sock}]
      volumes:
        - {name: engine, hostPath: {path: /var/run/docker.sock, type: Socket}}
"""


def test_a_runner_spec_whose_image_the_controller_supplies_is_a_pod(tmp_path):
    verdict = verdict_of(tmp_path, ("runners.yaml", RUNNER_SPEC))
    assert ("docker-socket-mount", BREAKS) in {(f.check, f.severity) for f in verdict.findings}, checks(verdict)


def test_a_pod_patch_in_a_configmap_is_a_pod_made_from_config(tmp_path):
    verdict = verdict_of(tmp_path, ("controller.yaml", POD_PATCH))
    assert checks(verdict) == {("configured-pod-docker-socket", BREAKS, "ConfigMap/ci/job-controller[config.yaml]")}
    clean = POD_PATCH.replace("/var/run/docker.sock, type: Socket", "/var/lib/ci-cache")
    assert not verdict_of(tmp_path, ("controller.yaml", clean)).findings


NODE_CLASS = """\
apiVersion: nodes.example.org/v1
kind: MachineClass
metadata: {name: general}
spec:
  image: {family: example-linux-2}
  kubelet:
    containerRuntime: dockerd
  userData: |
    #!/bin/bash
    cat > /etc/docker/daemon.json <<'EOF'
    {"registry-mirrors": ["https://mirror.example.org"]}
    EOF
    systemctl restart docker
"""
BOOTSTRAP_TEMPLATE = """\
apiVersion: bootstrap.example.org/v1
kind: JoinTemplate
metadata: {name: workers, namespace: fleet}
spec:
  template:
    spec:
      files:
      - path: /etc/docker/certs.d/registry.example.org/ca.crt
        content: "-----BEGIN CERTIFICATE-----"
      join:
        registration:
          criSocket: /var/run/dockershim.sock
          kubeletExtraArgs: {container-runtime: docker}
      preJoinCommands: [systemctl restart docker]
"""


@pytest.mark.parametrize("manifest, expected", [
    (NODE_CLASS, {("node-template-runtime", "MachineClass/default/general"),
                  ("docker-daemon-config", "MachineClass/default/general"),
                  ("docker-service-restart", "MachineClass/default/general")}),
    (BOOTSTRAP_TEMPLATE, {("node-template-runtime", "JoinTemplate/fleet/workers"),
                          ("docker-registry-certs", "JoinTemplate/fleet/workers"),
                          ("docker-service-restart", "JoinTemplate/fleet/workers")}),
])
def test_an_object_that_sets_up_nodes_for_docker_breaks(tmp_path, manifest, expected):
    verdict = verdict_of(tmp_path, ("nodes.yaml", manifest))
    assert {(f.check, f.object) for f in verdict.findings} == expected, checks(verdict)
    assert verdict.kind is Kind.NO_GO
    assert {f.severity for f in verdict.findings if f.check != "docker-registry-certs"} == {BREAKS}


@pytest.mark.parametrize("manifest", [
    NODE_CLASS.replace("dockerd", "containerd").replace("/etc/docker/daemon.json", "/etc/containerd/certs.d/x")
    .replace("restart docker", "restart containerd"),
    BOOTSTRAP_TEMPLATE.replace("/etc/docker/certs.d", "/etc/containerd/certs.d")
    .replace("/var/run/dockershim.sock", "unix:///run/containerd/containerd.sock")
    .replace("container-runtime: docker", "container-runtime-endpoint: unix:///run/containerd/containerd.sock")
    .replace("restart docker", "restart containerd"),
])
def test_its_containerd_twin_is_go(tmp_path, manifest):
    verdict = verdict_of(tmp_path, ("nodes.yaml", manifest))
    assert verdict.kind is Kind.GO and not verdict.findings, checks(verdict)


def agent_with_config(config_key: str, config: str, mounts=VAR_RUN, **container) -> str:
    """A DaemonSet reading one ConfigMap file (/etc/agent/<key>) and the given host mounts."""
    ds = json.loads(daemonset("heron", {}, [*mounts, ("config", "", "/etc/agent")], **container))
    spec = ds["spec"]["template"]["spec"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "config"] + [
        {"name": "config", "configMap": {"name": "heron-config"}}]
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "heron-config", "namespace": "ops"},
          "data": {config_key: config}}
    return yaml.safe_dump_all([cm, ds])


@pytest.mark.parametrize("config_key, config, expected", [
    # containerd read under Docker Engine's namespace
    ("heron.json", '{"runtime": {"address": "/run/containerd/containerd.sock", "namespace": "moby"}}',
     {("containerd-moby-namespace", BREAKS)}),
    ("heron.json", '{"runtime": {"address": "/run/containerd/containerd.sock", "namespace": "k8s.io"}}', set()),
    # container logs taken from Docker's journald log driver
    ("heron.ini", "[journal]\nmatch = CONTAINER_NAME=k8s_*\nfields = CONTAINER_ID_FULL, PRIORITY\n",
     {("docker-daemon-watched", BREAKS)}),
    ("heron.ini", "[journal]\nmatch = _SYSTEMD_UNIT=kubelet.service\n", set()),
    # a health check of the Docker daemon
    ("checks.json", '{"plugin": "custom", "args": ["--component=docker", "--enable-repair=true"]}',
     {("docker-daemon-watched", REVIEW)}),
    ("checks.json", '{"plugin": "custom", "args": ["--component=cri", "--enable-repair=true"]}', set()),
])
def test_settings_that_look_at_docker_engine_itself(tmp_path, config_key, config, expected):
    manifest = agent_with_config(config_key, config, mounts=[("containerd", "/run/containerd", "/run/containerd")])
    verdict = verdict_of(tmp_path, ("heron.yaml", manifest))
    assert {(f.check, f.severity) for f in verdict.findings} == expected, checks(verdict)


JENKINS_XML_TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: agent-templates, namespace: ci}
data:
  builder.xml: |
    <org.csanchez.jenkins.plugins.kubernetes.PodTemplate>
      <name>builder</name>
      <containers><org.csanchez.jenkins.plugins.kubernetes.ContainerTemplate>
        <image>example.org/builder:3</image>
      </org.csanchez.jenkins.plugins.kubernetes.ContainerTemplate></containers>
      <volumes><org.csanchez.jenkins.plugins.kubernetes.volumes.HostPathVolume>
        <mountPath>/var/run/docker.sock</mountPath>
        <hostPath>/var/run/docker.sock</hostPath>
      </org.csanchez.jenkins.plugins.kubernetes.volumes.HostPathVolume></volumes>
    </org.csanchez.jenkins.plugins.kubernetes.PodTemplate>
"""


def test_a_pod_template_in_another_format_naming_a_docker_host_path(tmp_path):
    verdict = verdict_of(tmp_path, ("templates.yaml", JENKINS_XML_TEMPLATE))
    assert checks(verdict) == {("configured-pod-docker-socket", BREAKS, "ConfigMap/ci/agent-templates[builder.xml]")}
    clean = JENKINS_XML_TEMPLATE.replace("<hostPath>/var/run/docker.sock", "<hostPath>/var/lib/ci-cache")
    assert not verdict_of(tmp_path, ("templates.yaml", clean)).findings


def test_a_suppression_of_an_object_covers_its_earlier_definitions():
    rule = Suppression("docker-socket-mount", "DaemonSet/ops/agent", "owned by the platform team", "test")
    found = [Finding("docker-socket-mount", f"DaemonSet/ops/{name}/main", "hostPath", "why", "fix")
             for name in ("agent", "agent@1", "agent@12", "agent-b", "agent@1x")]
    assert [rule.matches(f) for f in found] == [True, True, True, False, False]


class ListsOf:
    """A Reader that answers lists from a table: resource path -> objects, or an
    exception to raise (what the API server did when asked)."""

    def __init__(self, answers: dict, *_):
        self.answers, self.api = answers, None
        self.retrier = SimpleNamespace(timeout_s=30.0, summary=lambda: "")

    def list_all(self, resource):
        return self.answers[resource.path()]

    def pages(self, resource):
        answer = self.answers[resource.path()]
        if isinstance(answer, Exception):
            raise answer
        yield answer


def test_a_custom_resource_list_that_fails_is_a_note_and_the_others_are_read(monkeypatch):
    kept_unknown = {"type": "object", "properties": {"spec": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}}}
    task = yaml.safe_load(BUILD_TASK)
    answers = {CRDS.path(): [crd("ci.example.org", "buildtasks", kept_unknown),
                             crd("broken.example.org", "widgets", kept_unknown)],
               "/apis/ci.example.org/v1/buildtasks": [task],
               "/apis/broken.example.org/v1/widgets": ReadFailed("could not read: HTTP 500 (3 tries)")}
    reader = ListsOf(answers)
    monkeypatch.setattr(customresources, "Reader", lambda *_: reader)
    inventory = Inventory()
    customresources.read(reader, inventory)
    assert [t.ref for t in inventory.templates] == ["BuildTask/ci/image-publish"]
    assert any("widgets.broken.example.org" in n and "did not answer" in n for n in inventory.notes), inventory.notes
    assert not inventory.unreadable and not inventory.denied
