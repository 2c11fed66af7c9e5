"""Each fact once: the values crigate shares (Docker's sockets and data root,
the kubelet's log directories, the GPU resource, the managed-by label, the
Docker endpoint regex) are written out in one module each; and a finding's
why/fix come only from its family's data (plugins/gate/families/*.toml)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from crigate import facts
from crigate.gate import family
from crigate.gate.findings import BREAKS, REVIEW
from crigate.testbed import runtimes

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("plugins", "clusters", "suites")
FACTS = "plugins/facts.py"
RUNTIMES = "clusters/runtimes.py"

# literal -> the one file that may write it out (substrings count: a path built
# by hand around the literal is a second definition too)
SINGLE_SOURCE = {
    runtimes.DOCKER_SOCKET: RUNTIMES,
    runtimes.DOCKERSHIM_SOCKET: RUNTIMES,
    facts.DOCKER_SOCKET_NAME: RUNTIMES,             # inside DOCKER_SOCKET
    facts.normalize(runtimes.DOCKER_SOCKET): FACTS,   # derived: written nowhere
    facts.normalize(runtimes.DOCKERSHIM_SOCKET): FACTS,
    facts.DOCKER_DATA: FACTS,
    facts.POD_LOG_DIR: FACTS,
    facts.CONTAINER_LOG_DIR: FACTS,
    facts.GPU_RESOURCE: FACTS,
    facts.MANAGED_BY_KEY: FACTS,
    facts.DOCKER_ENDPOINT: FACTS,
    r"docker\.sock": FACTS,                          # the endpoint regex's heart
}

# Occurrences that are not a second definition, each with its reason.
# (file, literal): reason
ALLOWED = {
    ("clusters/nodeimage.py", facts.DOCKER_SOCKET_NAME):
        "the socket of a throwaway dockerd in a temporary directory, not the node's",
}

# Modules that may build a Finding (or a shipper Problem) from anything but a
# family: file -> reason.
FINDING_BUILDERS = {
    "plugins/gate/family.py": "Family.finding: the one place a finding is worded",
    "plugins/gate/verdict.py": "Verdict.from_dict: findings back from plain data (xdist, JSON), words nothing",
    "plugins/gate/shippers/common.py": "problem(): a shipper Problem worded by its family",
}


def sources() -> list[Path]:
    return sorted(p for d in SCANNED for p in (ROOT / d).rglob("*.py"))


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings (prose, not definitions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def string_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal in code, f-string parts included;
    docstrings and comments left out."""
    tree = ast.parse(path.read_text(), str(path))
    skip = docstrings(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip]


def occurs(literal: str, text: str) -> bool:
    """literal in text as a whole path or name: /run/docker.sock is not in
    /var/run/docker.sock, nor docker.sock in docker.socket or cri-docker.sock."""
    return re.search(r"(?<![\w.-])" + re.escape(literal) + r"(?![\w-])", text) is not None


def second_definitions(files: list[Path], root: Path = ROOT) -> list[str]:
    found = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        for line, text in string_literals(path):
            for literal, home in SINGLE_SOURCE.items():
                if occurs(literal, text) and rel != home and (rel, literal) not in ALLOWED:
                    found.append(f"{rel}:{line}: {literal!r} (defined once in {home}; import it)")
    return found


def test_each_shared_fact_is_written_out_once():
    found = second_definitions(sources())
    assert not found, "a fact defined twice:\n" + "\n".join(found)


def test_the_scan_sees_a_second_definition(tmp_path):
    copy = tmp_path / "plugins" / "gate" / "rules.py"
    copy.parent.mkdir(parents=True)
    copy.write_text('"""/var/log/pods in prose."""\nfrom crigate.facts import GPU_RESOURCE\n'
                    'GPU = "nvidia.com/gpu"\nPODS = f"{GPU}/var/log/pods/x"\n')
    assert second_definitions([copy], tmp_path) == [
        "plugins/gate/rules.py:3: 'nvidia.com/gpu' (defined once in plugins/facts.py; import it)",
        "plugins/gate/rules.py:4: '/var/log/pods' (defined once in plugins/facts.py; import it)"]


@pytest.mark.parametrize("literal, text, found", [
    ("/run/docker.sock", "/var/run/docker.sock", False),
    ("docker.sock", "/etc/systemd/system/docker.socket", False),
    ("docker.sock", "unix:///run/cri-docker.sock", False),
    ("docker.sock", "unix:///var/run/docker.sock", True),
    ("/var/lib/docker", "/var/lib/docker/containers", True),
    ("/var/lib/docker", "/var/lib/dockerish", False),
])
def test_a_fact_is_seen_as_a_whole_path(literal, text, found):
    assert occurs(literal, text) is found


def test_docstrings_and_comments_are_prose_not_definitions(tmp_path):
    path = tmp_path / "prose.py"
    path.write_text('"""Reads /var/log/pods."""\n# nvidia.com/gpu\ndef f():\n    """Under /var/lib/docker."""\n')
    assert string_literals(path) == []


def test_the_facts_module_imports_nothing_heavy():
    tree = ast.parse((ROOT / FACTS).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "crigate.testbed.runtimes"}, imported


def calls_of(path: Path, names: set[str]) -> list[int]:
    tree = ast.parse(path.read_text(), str(path))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and (
        (isinstance(n.func, ast.Name) and n.func.id in names)
        or (isinstance(n.func, ast.Attribute) and n.func.attr in names))]


def test_findings_are_worded_by_their_family():
    inline = [f"{p.relative_to(ROOT).as_posix()}:{line}" for p in sorted((ROOT / "plugins/gate").rglob("*.py"))
              if p.relative_to(ROOT).as_posix() not in FINDING_BUILDERS
              for line in calls_of(p, {"Finding", "Problem"})]
    assert not inline, ("findings built with inline why/fix wording (use family(check).finding): "
                        + ", ".join(inline))


def test_every_family_and_case_is_worded_and_fills():
    words = family.words()
    for f in family.known().values():
        for name in ("", *f.cases):
            worded = f.case(name)
            assert worded.severity in (BREAKS, REVIEW, "none"), (f.id, name)
            assert worded.breaks.strip() and worded.fix.strip(), (f.id, name)
            finding = f.finding("Kind/ns/x", "something", case=name, **words)
            left = [w for w in words if f"{{{w}}}" in finding.why + finding.remediation]
            assert not left, (f.id, name, left)


def test_a_family_defined_twice_is_an_error(tmp_path):
    entry = ('[[family]]\nid = "x"\ngroup = "g"\nwhat = "w"\nbreaks = "b"\nfix = "f"\n'
             'severity = "review"\nsources = ["https://example.org"]\n')
    (tmp_path / "a.toml").write_text(entry)
    (tmp_path / "b.toml").write_text(entry)
    with pytest.raises(ValueError, match="'x' is defined twice"):
        family.known(tmp_path)


def test_a_placeholder_the_rule_did_not_fill_is_an_error():
    with pytest.raises(KeyError, match="needs {cri_tools}"):
        family.family("docker-cli").finding("Pod/ns/x", "docker ps")


def test_braces_that_are_not_placeholders_stay_text():
    assert family.fill("`stage.cri {}` and %{message} on {runtime}", {"runtime": "cri-o"}, "x") == \
        "`stage.cri {}` and %{message} on cri-o"
