"""Promtail and Grafana Agent (static mode) scrape configs, YAML."""
from __future__ import annotations

from ..configtext import load_yaml, walk
from .common import Problem, as_list, path_problem, problem


def stage_names(stages) -> set[str]:
    """Stage names of a pipeline, including those nested in `match` stages."""
    names = set()
    for stage in as_list(stages):
        if isinstance(stage, dict):
            names.update(stage)
            for body in stage.values():
                if isinstance(body, dict) and "stages" in body:
                    names |= stage_names(body["stages"])
    return names


def log_paths(scrape: dict) -> list[str]:
    """__path__ values: static_configs labels and relabel replacements into __path__."""
    paths = [str((c.get("labels") or {}).get("__path__", "")) for c in as_list(scrape.get("static_configs"))
             if isinstance(c, dict)]
    paths += [str(r.get("replacement", "")) for r in as_list(scrape.get("relabel_configs"))
              if isinstance(r, dict) and r.get("target_label") == "__path__"]
    return [p for p in paths if p]


def scrape_config(scrape: dict) -> list[Problem]:
    job = scrape.get("job_name", "?")
    found = [p for path in log_paths(scrape) for p in path_problem(f"Promtail job {job}", path)]
    if scrape.get("docker_sd_configs"):
        found.append(problem("promtail-docker-sd", f"Promtail job {job}: docker_sd_configs"))
    names = stage_names(scrape.get("pipeline_stages"))
    if "docker" in names and "cri" not in names:
        found.append(problem("promtail-docker-stage",
                             f"Promtail job {job}: pipeline_stages `docker: {{}}` without `cri: {{}}`"))
    return found


def problems(text: str) -> list[Problem]:
    if "scrape_configs" not in text:
        return []
    found = []
    for doc in load_yaml(text):
        for node in walk(doc):
            if isinstance(node, dict) and isinstance(node.get("scrape_configs"), list):
                found += [p for s in node["scrape_configs"] if isinstance(s, dict)
                          for p in scrape_config(s)]
    return found
