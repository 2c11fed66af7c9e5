"""Any shipper no other module knows: judged by what makes a log config break,
not by its product. Run only on a config where no product parser found a
problem (theirs are worded for the product).

What breaks, in any format (YAML, TOML, INI, JSON, HCL, a vendor's own):
- the config names the kubelet's log files (/var/log/containers or
  /var/log/pods) and decodes them as JSON (a decoder, parser, format or codec
  set to json/ndjson/json-file), and nothing in it handles CRI lines (no
  `cri`, `containerd`, `crio`, a `stdout|stderr` regex or a `logtag`): on
  Docker those files held json-file lines; on a CRI runtime every line is
  `<time> <stream> <P|F> <text>` and fails to decode.
  When it also names Docker's json-file keys as fields (`log`, `stream`,
  `time`, `attrs`) the finding breaks; otherwise it is for review.
- the config names Docker's own log directory (/var/lib/docker/containers),
  which a CRI runtime leaves empty: for review, as the gate cannot tell an
  unknown format's include from its exclude; it breaks when it names the
  json-file driver's files there (`*-json.log`), which only Docker writes.
"""
from __future__ import annotations

import re

from .common import CONTAINER_LOGS, DOCKER_LOGS, Problem, problem, strip_comments

# `decoder = "json"`, `parser: ndjson`, `"format": "json"`, `codec => json`, `log_format json`;
# keys about writing (encoding, output, sink) are not about reading the files
JSON_DECODING = re.compile(
    r"(?P<key>(?<![\w.-])(?![\w.-]{0,40}(?:encod|output|sink|export))[\w.-]{0,40}(?:decod|pars|format|codec)[\w-]{0,20})"
    r"[\"']?(?:\s*(?:[:=]|=>)\s*|[ \t]+)[\"']?(?P<value>nd-?json|jsonl|json[_-]lines|json-file|json)\b", re.I)
# Docker's json-file log files: /var/lib/docker/containers/<id>/<id>-json.log
JSON_FILE_LOG = re.compile(re.escape(DOCKER_LOGS) + r"/[^\s\"',\]]*-json\.log")
# CRI lines handled: named, a regex for them, or a parser that detects the format
# (Filebeat/OTel `container`, Vector `kubernetes_logs`, `format: auto`)
CRI_HANDLING = re.compile(r"\b(?:cri|cri-o|crio|containerd|logtag|kubernetes_logs)\b|stdout\|stderr"
                          r"|(?:type|operator)[\"']?\s*[:=]\s*[\"']?container\b|-\s*container\s*:|format\W{1,4}auto\b",
                          re.I)
# Docker's json-file keys named as the field a line's parts come from
DOCKER_FIELD = re.compile(r"(?:[:=]|=>)\s*[\"']?(?:\$\.|\.)?(?P<field>log|stream|time|attrs)[\"']?\s*(?:[,}\]\n]|$)",
                          re.I | re.M)


def problems(text: str) -> list[Problem]:
    code = strip_comments(text, line=("#", "//", ";"))
    named_logs = [d for d in CONTAINER_LOGS if d in code]
    found = []
    if named_logs and not CRI_HANDLING.search(code) and (decoding := JSON_DECODING.search(code)):
        said = f"{decoding.group('key')} {decoding.group('value')}"
        fields = DOCKER_FIELD.search(code)
        depends = (f"a log config reading {' and '.join(named_logs)} that decodes lines as JSON ({said})"
                   + (f" and takes Docker's json-file key `{fields.group('field')}`" if fields else ""))
        found.append(problem("json-decoded-container-logs", depends,
                             severity=None if fields else "review"))
    if DOCKER_LOGS in code:
        json_files = JSON_FILE_LOG.search(code)       # only Docker's json-file driver names files so
        named = json_files.group(0) if json_files else DOCKER_LOGS
        found.append(problem("docker-log-path", f"a log config naming {named}",
                             severity=None if json_files else "review"))
    return found
