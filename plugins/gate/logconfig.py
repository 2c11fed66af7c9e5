"""Log shipper configs that assume Docker's json-file logs.

Docker wrote /var/lib/docker/containers/<id>/<id>-json.log, one JSON object
per line, and /var/log/containers pointed there. CRI runtimes write
`<time> <stream> <P|F> <text>` lines under /var/log/pods. A shipper that reads
Docker's directory, asks the Docker daemon, or parses container logs as JSON
drops or garbles every line after the switch.

One parser per shipper in shippers/, and shippers/generic.py for the others; the couplings they report, with wording,
fix and sources, are the families in families/log_shippers.toml.
"""
from __future__ import annotations

from .shippers import alloy, filebeat, fluent, generic, logstash, otel, promtail, vector
from .shippers.common import Problem, families

PARSERS = (fluent, promtail, alloy, filebeat, vector, otel, logstash)

__all__ = ["Problem", "families", "problems"]


def problems(text: str) -> list[Problem]:
    """Docker-log couplings in one config file (one ConfigMap key), any shipper:
    a known shipper's parser words them for the product; a config none of them
    faults is judged by the generic rules."""
    found = []
    for parser in PARSERS:
        found += [p for p in parser.problems(text) if p not in found]
    return found or generic.problems(text)
