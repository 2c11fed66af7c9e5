"""Configuration text the gate reads from ConfigMaps: YAML documents and the
nodes inside them (shared by the log-shipper parsers and configured.py)."""
from __future__ import annotations

import yaml


def load_yaml(text: str) -> list:
    """All documents of a YAML (or JSON) text; [] when it is not YAML."""
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        return []


def walk(node):
    """Every dict and list inside a parsed YAML/TOML document, depth first."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        if isinstance(child, (dict, list)):
            yield from walk(child)


def mappings(node):
    """Every dict inside a parsed document."""
    return (n for n in walk(node) if isinstance(n, dict))
