"""Log shipper couplings to Docker's json-file logs: each detector on config text,
each with a twin that reads CRI logs and must yield nothing; the env-var rule over
pod templates; the family table (the corpus runs in test_corpus.py)."""
from __future__ import annotations

import re

import pytest
from crigate.gate import logconfig, shipper_env
from crigate.gate.findings import PodTemplate
from crigate.gate.inventory import Inventory
from crigate.gate.shippers.common import families, strip_comments


def checks(text: str) -> list[str]:
    return [p.check for p in logconfig.problems(text)]


FLUENT_BIT_YAML_DOCKER = """\
pipeline:
  inputs:
    - name: tail
      path: /var/log/containers/*.log
      parser: docker
"""
FLUENTD_ENV = """\
<source>
  @type tail
  path /var/log/containers/*.log
  <parse>
    @type "#{ENV['FLUENT_CONTAINER_TAIL_PARSER_TYPE'] || 'json'}"
  </parse>
</source>
"""
PROMTAIL = """\
server: {http_listen_port: 3101}
scrape_configs:
  - job_name: kubernetes-pods
    pipeline_stages:
      - docker: {}
    kubernetes_sd_configs:
      - role: pod
    relabel_configs:
      - target_label: __path__
        replacement: /var/log/pods/*$1/*.log
"""
ALLOY = """\
// stage.docker {} was used before the switch
loki.process "pods" {
  forward_to = [loki.write.default.receiver]
  stage.docker {}
}
loki.write "default" {
  endpoint { url = "http://loki:3100/loki/api/v1/push" }
}
"""
FILEBEAT_CONTAINER = """\
filebeat.inputs:
  - type: container
    paths: ["/var/log/containers/*.log"]
    format: docker
processors:
  - add_kubernetes_metadata: {}
"""
VECTOR_TOML = """\
# docker_logs replaced by kubernetes_logs? not yet
[sources.containers]
type = "docker_logs"

[sinks.out]
type = "console"
inputs = ["containers"]
"""
OTEL_JSON = """\
receivers:
  filelog:
    include: [/var/log/pods/*/*/*.log]
    operators:
      - type: json_parser
        timestamp: {parse_from: attributes.time, layout: '%Y-%m-%dT%H:%M:%S.%LZ'}
exporters:
  debug: {}
"""
LOGSTASH = """\
# codec => plain would do
input {
  file {
    path => ["/var/log/containers/*.log"]
    codec => "json"
  }
}
output { stdout {} }
"""


@pytest.mark.parametrize("text,expected", [
    # fluent-bit classic and YAML
    ("[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    Parser docker\n",
     ["fluent-bit-docker-parser"]),
    ("[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    Docker_Mode On\n",
     ["fluent-bit-docker-parser"]),
    ("[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    multiline.parser docker\n",
     ["fluent-bit-docker-parser"]),
    ("[INPUT]\n    Name tail\n    Path /var/lib/docker/containers/*/*.log\n", ["docker-log-path"]),
    (FLUENT_BIT_YAML_DOCKER, ["fluent-bit-docker-parser"]),
    ("pipeline:\n  inputs:\n    - tail:\n        path: /var/log/containers/*.log\n"
     "        multiline.parser: docker\n", ["fluent-bit-docker-parser"]),
    # fluentd
    ("<source>\n  @type tail\n  path /var/log/containers/*.log\n  <parse>\n    @type json\n"
     "  </parse>\n</source>", ["fluentd-json-parse"]),
    ("<source>\n  type tail\n  path /var/log/containers/*.log\n  format json\n</source>",
     ["fluentd-json-parse"]),
    ("<source>\n  @type tail\n  path /var/lib/docker/containers/*/*-json.log\n  format json\n</source>",
     ["docker-log-path"]),
    # Promtail / Grafana Agent static
    (PROMTAIL, ["promtail-docker-stage"]),
    ("scrape_configs:\n  - job_name: docker\n    docker_sd_configs:\n"
     "      - host: unix:///var/run/docker.sock\n", ["promtail-docker-sd"]),
    ("logs:\n  configs:\n    - name: default\n      scrape_configs:\n        - job_name: pods\n"
     "          pipeline_stages: [{match: {selector: '{app=\"x\"}', stages: [{docker: {}}]}}]\n",
     ["promtail-docker-stage"]),
    ("scrape_configs:\n  - job_name: files\n    static_configs:\n      - labels:\n"
     "          __path__: /var/lib/docker/containers/*/*.log\n", ["docker-log-path"]),
    # Alloy / Agent Flow
    (ALLOY, ["alloy-docker-stage"]),
    ('discovery.docker "local" {\n  host = "unix:///var/run/docker.sock"\n}\n'
     'loki.source.docker "c" {\n  host = "unix:///var/run/docker.sock"\n'
     '  targets = discovery.docker.local.targets\n  forward_to = []\n}\n',
     ["alloy-docker-source", "alloy-docker-source"]),
    ('local.file_match "docker" {\n  path_targets = [{"__path__" = "/var/lib/docker/containers/*/*.log"}]\n}\n',
     ["docker-log-path"]),
    # Filebeat / Elastic Agent
    ("filebeat.inputs:\n  - type: docker\n    containers.ids: ['*']\n", ["filebeat-docker-input"]),
    (FILEBEAT_CONTAINER, ["filebeat-docker-format"]),
    ("filebeat.inputs:\n  - type: filestream\n    id: c\n    paths: [/var/log/containers/*.log]\n"
     "    parsers:\n      - container: {format: docker}\n", ["filebeat-docker-format"]),
    ("filebeat.inputs:\n  - type: log\n    paths: [/var/log/containers/*.log]\n"
     "    json.keys_under_root: true\n    json.message_key: log\n", ["filebeat-json-decoding"]),
    ("filebeat.inputs:\n  - type: filestream\n    id: c\n    paths: [/var/log/containers/*.log]\n"
     "    parsers:\n      - ndjson: {target: ''}\n", ["filebeat-json-decoding"]),
    ("filebeat.inputs:\n  - type: container\n    paths: [/var/log/containers/*.log]\n"
     "processors:\n  - add_docker_metadata: {host: 'unix:///var/run/docker.sock'}\n",
     ["filebeat-docker-metadata"]),
    # Vector
    (VECTOR_TOML, ["vector-docker-logs-source"]),
    ("sources:\n  d:\n    type: docker\n", ["vector-docker-logs-source"]),
    ("sources:\n  f:\n    type: file\n    include: [/var/lib/docker/containers/*/*.log]\n",
     ["docker-log-path"]),
    # OpenTelemetry Collector
    (OTEL_JSON, ["otel-json-parser-container-logs"]),
    ("receivers:\n  filelog/pods:\n    include: [/var/log/pods/*/*/*.log]\n    operators:\n"
     "      - type: container\n        format: docker\n", ["otel-container-docker-format"]),
    ("receivers:\n  filelog:\n    include: [/var/lib/docker/containers/*/*-json.log]\n"
     "    operators: [{type: container}]\n", ["docker-log-path"]),
    # Logstash
    (LOGSTASH, ["logstash-json-codec"]),
    ("input {\n  file { path => '/var/lib/docker/containers/*/*.log' codec => json }\n}\n",
     ["docker-log-path"]),
])
def test_docker_coupled_config_is_found(text, expected):
    assert checks(text) == expected


@pytest.mark.parametrize("text", [
    # fluent-bit: CRI parsers, docker only as fallback, parser definitions, comments
    "[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    multiline.parser docker, cri\n",
    "[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    Parser cri\n",
    "[PARSER]\n    Name docker\n    Format json\n",
    "# Parser docker was replaced\n[INPUT]\n    Name tail\n    Path /var/log/pods/*/*/*.log\n    Parser cri\n",
    "[INPUT]\n    Name tail\n    Path /var/log/containers/*.log\n    Parser docker\n"
    "[PARSER]\n    Name docker\n    Format regex\n    Regex ^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<log>.*)$\n",
    FLUENT_BIT_YAML_DOCKER.replace("parser: docker", "multiline.parser: docker, cri"),
    "[INPUT]\n    Name tail\n    Path /var/log/app/*.log\n    Parser docker\n",
    # fluentd: CRI parser, CRI regexp, multi_format with a CRI pattern, env-selected, other files
    "<source>\n  @type tail\n  path /var/log/containers/*.log\n  <parse>\n    @type cri\n  </parse>\n</source>",
    "<source>\n  @type tail\n  path /var/log/containers/*.log\n  <parse>\n    @type regexp\n"
    "    expression /^(?<time>.+) (?<stream>stdout|stderr) (?<logtag>[FP]) (?<log>.*)$/\n  </parse>\n</source>",
    "<source>\n  @type tail\n  path /var/log/containers/*.log\n  <parse>\n    @type multi_format\n"
    "    <pattern>\n      format json\n    </pattern>\n    <pattern>\n"
    "      format /^(?<time>.+) (?<stream>stdout|stderr) [^ ]* (?<log>.*)$/\n    </pattern>\n"
    "  </parse>\n</source>",
    FLUENTD_ENV,
    "<source>\n  @type tail\n  path /var/log/app.log\n  format json\n</source>",
    "<filter kubernetes.**>\n  @type parser\n  key_name log\n  <parse>\n    @type json\n  </parse>\n</filter>",
    # Promtail / Loki: cri stage, docker next to cri
    PROMTAIL.replace("- docker: {}", "- cri: {}"),
    PROMTAIL.replace("- docker: {}", "- docker: {}\n      - cri: {}"),
    "# pipeline_stages: [docker: {}]\nscrape_configs:\n  - job_name: k\n    pipeline_stages: [{cri: {}}]\n",
    # Alloy: stage.cri, docker as fallback, a URL with // in a string
    ALLOY.replace("stage.docker {}", "stage.cri {}"),
    ALLOY.replace("stage.docker {}", "stage.docker {}\n  stage.cri {}"),
    'loki.source.kubernetes "pods" {\n  targets = discovery.kubernetes.pods.targets\n'
    '  forward_to = [loki.process.pods.receiver] // not loki.source.docker\n}\n',
    # Filebeat: auto format, cri, container parser before ndjson, docker paths only excluded
    FILEBEAT_CONTAINER.replace("format: docker", "format: auto"),
    FILEBEAT_CONTAINER.replace("    format: docker\n", ""),
    "filebeat.inputs:\n  - type: filestream\n    id: c\n    paths: [/var/log/containers/*.log]\n"
    "    parsers:\n      - container: {}\n      - ndjson: {target: ''}\n",
    "filebeat.inputs:\n  - type: log\n    paths: [/var/log/app/*.json]\n    json.keys_under_root: true\n",
    # Vector: kubernetes_logs, comments
    "# type = \"docker_logs\"\n[sources.k8s]\ntype = \"kubernetes_logs\"\n",
    "sources:\n  f:\n    type: file\n    include: [/var/log/pods/**/*.log]\n",
    # OTel: container operator, the old router with CRI routes and a recombine on logtag F
    "receivers:\n  filelog:\n    include: [/var/log/pods/*/*/*.log]\n    include_file_path: true\n"
    "    operators: [{type: container}]\n",
    "receivers:\n  filelog:\n    include: [/var/log/containers/*.log]\n"
    "    operators: [{type: container, add_metadata_from_filepath: false}]\n",
    "receivers:\n  filelog:\n    include: [/var/log/pods/*/*/*.log]\n    operators:\n"
    "      - type: router\n        routes:\n          - output: parser-docker\n"
    "            expr: 'body matches \"^\\\\{\"'\n          - output: parser-containerd\n"
    "            expr: 'body matches \"^[^ Z]+Z\"'\n"
    "      - type: regex_parser\n        id: parser-containerd\n"
    "        regex: '^(?P<time>[^ ^Z]+Z) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$'\n"
    "      - type: recombine\n        combine_field: attributes.log\n"
    "        is_last_entry: \"attributes.logtag == 'F'\"\n"
    "      - type: json_parser\n        id: parser-docker\n",
    # Logstash: plain codec, json on another file
    LOGSTASH.replace('codec => "json"', 'codec => "plain"'),
    "input {\n  file { path => '/var/log/app/*.json' codec => json }\n}\n",
    # not a shipper config at all
    "apiVersion: v1\nkind: List\nitems: []\n",
    "#!/bin/sh\ntail -f /var/log/containers/app.log | jq .\n",
])
def test_cri_ready_config_is_clean(text):
    assert checks(text) == []


@pytest.mark.parametrize("receiver", [
    # the container operator's file-path metadata step fails, so it skips its recombine
    "    include: [/var/log/pods/*/*/*.log]\n    operators: [{type: container}]\n",
    "    include: [/var/log/containers/*.log]\n    include_file_path: true\n    operators: [{type: container}]\n",
    # CRI regex, no recombine
    "    include: [/var/log/pods/*/*/*.log]\n    operators:\n      - type: regex_parser\n"
    "        regex: '^(?P<time>[^ ]+) (?P<stream>stdout|stderr) (?P<logtag>[^ ]*) ?(?P<log>.*)$'\n",
])
def test_otel_cri_config_that_leaves_partial_lines_unjoined_is_review(receiver):
    assert checks("receivers:\n  filelog:\n" + receiver) == ["otel-cri-partial-lines"]


def test_comments_are_stripped_but_strings_kept():
    river = 'url = "http://loki:3100" // stage.docker {}\n/* loki.source.docker "x" {} */ y = 1\n'
    assert strip_comments(river, line=("//",), block=True, quotes='"`') == 'url = "http://loki:3100" \n y = 1\n'


def test_every_problem_is_worded_from_its_family():
    for text in (PROMTAIL, ALLOY, VECTOR_TOML, OTEL_JSON, LOGSTASH, FILEBEAT_CONTAINER):
        for found in logconfig.problems(text):
            family = families()[found.check]
            assert (found.why, found.remediation, found.severity) == (
                family.breaks, family.fix, family.severity)


def test_family_table_is_complete():
    table = families()
    assert "docker-log-path" in table and "fluentd-daemonset-parser-env" in table
    for family in table.values():
        assert family.group == "log shippers", family.id
        assert family.severity in ("breaks", "review"), family.id
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", family.id), family.id
        assert family.sources and all(s.startswith("https://") for s in family.sources), family.id
        assert all(family.__dict__[k].strip() for k in ("what", "breaks", "fix")), family.id


# -- the env-var rule over pod templates ---------------------------------------

DAEMONSET_IMAGE = "fluent/fluentd-kubernetes-daemonset:v1.16-debian-elasticsearch8-1"


def fluentd(name: str, env=None, image=DAEMONSET_IMAGE, config_map=None, env_from=None) -> PodTemplate:
    container = {"name": "fluentd", "image": image, "env": env or [], "envFrom": env_from or [],
                 "volumeMounts": [{"name": "conf", "mountPath": "/fluentd/etc/conf.d"}] if config_map else []}
    volumes = [{"name": "conf", "configMap": {"name": config_map}}] if config_map else []
    return PodTemplate("DaemonSet", "logging", name, {"containers": [container], "volumes": volumes})


def env_findings(*templates, config_maps=None):
    inventory = Inventory(templates=list(templates), config_maps=config_maps or {})
    return [(f.object, f.severity) for f in shipper_env.find(inventory, "containerd")]


def test_daemonset_image_without_parser_env_breaks():
    assert env_findings(fluentd("unset")) == [("DaemonSet/logging/unset/fluentd", "breaks")]


@pytest.mark.parametrize("value,severity", [
    ("json", "breaks"),
    ("cri", None),
    ("/^(?<time>.+) (?<stream>stdout|stderr) (?<logtag>[FP]) (?<log>.*)$/", None),
    ("none", "review"),
])
def test_daemonset_parser_env_values(value, severity):
    found = env_findings(fluentd("set", env=[{"name": shipper_env.PARSER_ENV, "value": value}]))
    assert found == ([("DaemonSet/logging/set/fluentd", severity)] if severity else [])


def test_parser_env_from_a_config_map_and_from_a_secret():
    from_cm = fluentd("from-cm", env_from=[{"configMapRef": {"name": "fluentd-env"}}])
    secret = fluentd("secret", env=[{"name": shipper_env.PARSER_ENV,
                                     "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])
    found = env_findings(from_cm, secret, config_maps={
        ("logging", "fluentd-env"): {shipper_env.PARSER_ENV: "cri"}})
    assert found == [("DaemonSet/logging/secret/fluentd", "review")]


def test_own_config_decides_whether_the_env_var_matters():
    plain_image = fluentd("own-env-config", image="fluent/fluentd:v1.16-debian-1", config_map="uses-env")
    replaced = fluentd("replaced-tail", config_map="own-tail")
    other = fluentd("other-image", image="fluent/fluentd:v1.16-debian-1")
    found = env_findings(plain_image, replaced, other, config_maps={
        ("logging", "uses-env"): {"containers.conf": FLUENTD_ENV},
        ("logging", "own-tail"): {"tail_container_parse.conf": "<parse>\n  @type cri\n</parse>\n"}})
    assert found == [("DaemonSet/logging/own-env-config/fluentd", "breaks")]
