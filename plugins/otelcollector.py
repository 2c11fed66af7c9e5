"""The OpenTelemetry Collector as a node's log agent: its configurations, the
pod that runs one on a node, and what it exported compared with what the
logger wrote.

The collector is crigate's own minimal distribution (clusters/programs/otelcol:
the filelog receiver in, the file exporter out), run as a pod pinned to the
node under test with the node's /var/log mounted read-only, as a DaemonSet
agent runs. It exports to a file in an emptyDir that the test reads through
the node host before the pod goes. Sources:
  filelog receiver: open-telemetry/opentelemetry-collector-contrib,
    receiver/filelogreceiver/README.md (include, start_at, include_file_path, operators)
  container operator: pkg/stanza/docs/operators/container.md (format auto, docker,
    crio, containerd; partial CRI lines recombined on logtag F; its
    add_metadata_from_filepath, on by default, needs include_file_path)
  file exporter: exporter/fileexporter/README.md (path, format json: one OTLP
    JSON ExportLogsServiceRequest per line)
"""
from __future__ import annotations

import copy
import fnmatch
import json
from collections import Counter
from dataclasses import dataclass, field

import yaml

from .facts import CONTAINER_LOG_DIR, DOCKER_CONTAINER_LOGS, POD_LOG_DIR
from .waiting import until

CONFIG_ENV = "CRIGATE_OTELCOL_CONFIG"      # the config, read through the collector's env provider
OUT_DIR = "/otel-out"                      # an emptyDir in the collector pod
OUT_FILE = f"{OUT_DIR}/logs.json"
OUT_VOLUME = "otel-out"
FILE_EXPORTER = "file/crigate"
STREAM_ATTRIBUTES = ("log.iostream", "stream")   # container operator; json_parser / regex_parser
FILE_PATH_ATTRIBUTE = "log.file.path"

# The configuration people deployed for Docker nodes: the kubelet's
# /var/log/containers links parsed as Docker json-file records, Docker's own
# 16 KiB partial records joined back on the trailing newline, `log` moved to
# the body. Shapes: open-telemetry/opentelemetry-collector-contrib
# examples/kubernetes/otel-collector-config.yml (json_parser parser-docker, move
# attributes.log to body) and signalfx/splunk-otel-collector-chart's agent
# config (recombine docker-recombine, is_last_entry: attributes.log endsWith "\n").
DOCKER_ERA_RECEIVER = {
    "include": [f"{CONTAINER_LOG_DIR}/*.log"],
    "start_at": "beginning",
    "include_file_path": True,
    "operators": [
        {"type": "json_parser", "id": "parser-docker",
         "timestamp": {"parse_from": "attributes.time", "layout": "%Y-%m-%dT%H:%M:%S.%LZ"}},
        {"type": "recombine", "id": "docker-recombine", "combine_field": "attributes.log",
         "source_identifier": f'attributes["{FILE_PATH_ATTRIBUTE}"]',
         "is_last_entry": 'attributes.log endsWith "\\n"', "combine_with": ""},
        {"type": "move", "from": "attributes.log", "to": "body"},
    ],
}

# The CRI-ready one: the kubelet's /var/log/pods files through the container
# operator, format detected (container.md; the collector's Kubernetes docs and
# its Helm chart's logsCollection preset use this shape).
CRI_READY_RECEIVER = {
    "include": [f"{POD_LOG_DIR}/*/*/*.log"],
    "start_at": "beginning",
    "include_file_path": True,
    "operators": [{"type": "container", "id": "container-parser"}],
}


def collector_config(receivers: dict[str, dict]) -> dict:
    """A whole collector configuration: these filelog receivers into the file exporter."""
    return {
        "receivers": receivers,
        "exporters": {FILE_EXPORTER: {"path": OUT_FILE, "flush_interval": "200ms"}},
        "service": {
            "pipelines": {"logs": {"receivers": list(receivers), "exporters": [FILE_EXPORTER]}},
            # the collector's own metrics (an endpoint on :8888) are not looked at
            "telemetry": {"metrics": {"level": "none"}},
        },
    }


def pod_manifest(name: str, image: str, node: str, config: dict, host_dirs: list[str]) -> dict:
    """A collector pod on node reading host_dirs (mounted read-only at the same
    paths, as a DaemonSet agent mounts them) and writing to its emptyDir."""
    mounts = [{"name": f"host-{i}", "mountPath": d, "readOnly": True} for i, d in enumerate(host_dirs)]
    volumes = [{"name": f"host-{i}", "hostPath": {"path": d, "type": "Directory"}}
               for i, d in enumerate(host_dirs)]
    container = {
        "name": "otelcol", "image": image, "imagePullPolicy": "IfNotPresent",
        "args": [f"--config=env:{CONFIG_ENV}"],
        "env": [{"name": CONFIG_ENV, "value": yaml.safe_dump(config, sort_keys=False)}],
        "volumeMounts": [*mounts, {"name": OUT_VOLUME, "mountPath": OUT_DIR}],
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "containers": [container],
                     "volumes": [*volumes, {"name": OUT_VOLUME, "emptyDir": {}}]}}


def empty_dir_on_node(pod_uid: str) -> str:
    """Where the kubelet keeps the pod's emptyDir on its node (kubelet root
    /var/lib/kubelet, pods/<uid>/volumes/kubernetes.io~empty-dir/<volume>)."""
    return f"/var/lib/kubelet/pods/{pod_uid}/volumes/kubernetes.io~empty-dir/{OUT_VOLUME}/logs.json"


# --- what came out ------------------------------------------------------------

@dataclass(frozen=True)
class ExportedRecord:
    body: str
    stream: str | None
    file_path: str | None = None


def _value(any_value: dict):
    for key in ("stringValue", "intValue", "doubleValue", "boolValue"):
        if key in any_value:
            return any_value[key]
    return json.dumps(any_value) if any_value else ""


def exported_records(text: str) -> list[ExportedRecord]:
    """The log records of the file exporter's JSON lines (OTLP JSON); a last
    line not yet ended (read while the exporter writes it) is left for later."""
    records = []
    for line in text.split("\n")[:-1]:
        if not line.strip():
            continue
        for resource in json.loads(line).get("resourceLogs", []):
            for scope in resource.get("scopeLogs", []):
                for record in scope.get("logRecords", []):
                    attributes = {a["key"]: _value(a.get("value", {})) for a in record.get("attributes", [])}
                    stream = next((attributes[k] for k in STREAM_ATTRIBUTES if k in attributes), None)
                    records.append(ExportedRecord(str(_value(record.get("body", {}))), stream,
                                                  attributes.get(FILE_PATH_ATTRIBUTE)))
    return records


def as_line(record: ExportedRecord) -> tuple[str | None, str]:
    """(stream, text) of a record: Docker's json-file keeps each line's newline
    in `log`, and a Docker-era configuration passes it on; one is dropped."""
    return record.stream, record.body.removesuffix("\n")


@dataclass
class Delivery:
    """What a collector returned of the lines a logger wrote."""
    written: list[tuple[str, str]]
    records: list[ExportedRecord]
    intact: int = 0
    missing: list[tuple[str, str]] = field(default_factory=list)
    unexpected: list[tuple[str | None, str]] = field(default_factory=list)
    long_line_whole: bool = False

    @property
    def every_line(self) -> bool:
        return not self.missing and not self.unexpected

    def summary(self) -> str:
        def short(lines):
            return [(s, t[:40] + (f"...({len(t)} bytes)" if len(t) > 40 else "")) for s, t in lines[:4]]
        return (f"{len(self.records)} records exported for {len(self.written)} lines written, "
                f"{self.intact} intact (body and stream), long line whole: "
                f"{'yes' if self.long_line_whole else 'no'}; {len(self.missing)} missing "
                f"{short(self.missing)}, {len(self.unexpected)} not written {short(self.unexpected)}")


def delivery(written: list[tuple[str, str]], records: list[ExportedRecord], long_line: str) -> Delivery:
    expected, got = Counter(written), Counter(as_line(r) for r in records)
    result = Delivery(written, records)
    result.intact = sum((expected & got).values())
    result.missing = list((expected - got).elements())
    result.unexpected = list((got - expected).elements())
    result.long_line_whole = any(text == long_line for _, text in got)
    return result


def logger_done(records: list[ExportedRecord], last_line: str) -> bool:
    """The logger's last line is out, parsed or not (a configuration that does
    not parse still sends it, as its raw file line)."""
    return any(last_line in r.body for r in records)


# --- configurations found in manifests ------------------------------------------

@dataclass
class FoundConfig:
    where: str             # "ConfigMap/name data.key", "OpenTelemetryCollector/name spec.config"
    config: dict


def _collector_configs(node, where: str):
    """Every mapping in node that is a collector config with a filelog receiver."""
    if isinstance(node, dict):
        receivers = node.get("receivers")
        if isinstance(receivers, dict) and any(str(k).split("/")[0] == "filelog" for k in receivers) \
                and isinstance(node.get("service"), dict):
            yield where, node
            return
        for key, value in node.items():
            yield from _collector_configs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _collector_configs(value, f"{where}[{i}]")
    elif isinstance(node, str) and "filelog" in node and "receivers" in node:
        try:
            docs = list(yaml.safe_load_all(node))
        except yaml.YAMLError:
            return
        for doc in docs:
            yield from _collector_configs(doc, where)


def configs_in(text: str) -> list[FoundConfig]:
    """Collector configurations with a filelog receiver in a manifest file:
    ConfigMap data, an OpenTelemetryCollector's spec.config (a mapping or a
    YAML string), Helm values (config: under the chart's values), embedded in
    any object."""
    found = []
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict):
            continue
        name = f"{doc.get('kind', '?')}/{(doc.get('metadata') or {}).get('name', '?')}"
        found += [FoundConfig(where, config) for where, config in _collector_configs(doc, name)]
    return found


@dataclass
class Observed:
    """One configuration rewritten only where the test must observe it."""
    config: dict
    rewrites: list[str]


def _exact_paths(pattern: str, log_files: dict[str, str]) -> list[str]:
    """The logger's files that pattern selects, named exactly (one per layout
    the pattern reads: the pod log, the container link, Docker's file)."""
    return [path for layout, path in log_files.items()
            if pattern.startswith(layout + "/") and glob_selects(pattern, path)]


def glob_selects(pattern: str, path: str) -> bool:
    """Whether a filelog include glob selects path: `*` and `?` stay within one
    path segment, `**` spans any number of them (the doublestar syntax the
    receiver's fileconsumer matches with, pkg/stanza/fileconsumer/matcher)."""
    def match(pat: list[str], parts: list[str]) -> bool:
        if not pat:
            return not parts
        if pat[0] == "**":
            return any(match(pat[1:], parts[i:]) for i in range(len(parts) + 1))
        return bool(parts) and fnmatch.fnmatchcase(parts[0], pat[0]) and match(pat[1:], parts[1:])
    return match(pattern.split("/"), path.split("/"))


def observed_config(config: dict, log_files: dict[str, str]) -> Observed:
    """config rewritten to be watched on a test-bed node, nothing else changed:
      - each filelog `include` glob is narrowed to the logger's own file(s) it
        would select (other pods' logs would swamp the count); a glob that
        selects none of them stays as it is: it finds nothing to read there;
      - start_at: beginning (the logger wrote before the collector started) and
        no `storage` (file offsets kept in an extension this distribution lacks);
      - every pipeline's exporters become the file exporter, processors and
        extensions are dropped (this distribution has filelog, file and debug
        only; none of the corpus' processors decides whether a line is parsed);
      - receivers other than filelog are dropped.
    Operators, include_file_path, exclude and everything else stay."""
    rewrites = []
    receivers = {}
    for name, receiver in (config.get("receivers") or {}).items():
        if str(name).split("/")[0] != "filelog":
            rewrites.append(f"receiver {name} dropped (not filelog)")
            continue
        receiver = copy.deepcopy(receiver) if isinstance(receiver, dict) else {}
        includes = receiver.get("include") or []
        includes = [includes] if isinstance(includes, str) else list(includes)
        narrowed = []
        for pattern in includes:
            exact = _exact_paths(str(pattern), log_files)
            narrowed += exact or [str(pattern)]
        if narrowed != includes:
            rewrites.append(f"{name} include {includes} -> the logger's {narrowed}")
        receiver["include"] = narrowed
        if receiver.get("start_at") != "beginning":
            rewrites.append(f"{name} start_at {receiver.get('start_at', 'end')} -> beginning")
            receiver["start_at"] = "beginning"
        if receiver.pop("storage", None) is not None:
            rewrites.append(f"{name} storage dropped")
        receivers[name] = receiver
    dropped = [p for p in ("processors", "extensions", "connectors") if config.get(p)]
    if dropped:
        rewrites.append(f"{', '.join(dropped)} dropped")
    rewrites.append(f"exporters -> {FILE_EXPORTER} ({OUT_FILE})")
    return Observed(collector_config(receivers), rewrites)


def logger_log_files(pod_log: str, container_link: str, container_id: str) -> dict[str, str]:
    """The logger's file in each layout a filelog include may read:
    the kubelet's pod log, its /var/log/containers link and Docker's json-file
    (only on a node whose runtime is Docker)."""
    return {POD_LOG_DIR: pod_log, CONTAINER_LOG_DIR: container_link,
            DOCKER_CONTAINER_LOGS: f"{DOCKER_CONTAINER_LOGS}/{container_id}/{container_id}-json.log"}


# --- running it ------------------------------------------------------------------

def host_dirs(docker_json_logs: bool) -> list[str]:
    """What the collector pod mounts from its node: /var/log, and Docker's
    container dir where the kubelet's pod logs link into it (a Docker-era agent
    mounted both; elsewhere the directory does not exist)."""
    return ["/var/log", *([DOCKER_CONTAINER_LOGS] if docker_json_logs else [])]


def collect(kube, host, namespace: str, name: str, node: str, image: str, config: dict,
            dirs: list[str], done, timeout: float = 30) -> list[ExportedRecord]:
    """Run the collector with config on node until done(records) holds or
    timeout passes (a configuration that reads nothing never gets there), and
    return what it exported. The pod goes afterwards, its emptyDir with it."""
    pod = kube.run_pod(namespace, pod_manifest(name, image, node, config, dirs), until="Running")
    out = empty_dir_on_node(pod.metadata.uid)

    def read() -> list[ExportedRecord]:
        f = host.file(out)
        return exported_records(f.content_string) if f.exists else []
    try:
        return until(read, done, f"node {node}: collector {namespace}/{name}: the logger's last line "
                     f"exported to {out}", timeout=timeout)
    except AssertionError:
        return read()
    finally:
        kube.core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
