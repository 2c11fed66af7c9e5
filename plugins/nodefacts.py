"""A node's facts read in one command: the paths a check asks about (their
type, and a file's text), the processes it names (pid, comm, argv), whether a
program is installed, and the answer of each command it needs.

One `host.run` per node instead of one per fact: on an existing cluster every
command is an exec (through the API server) into the node's debug pod, so a check area that
asked 25 questions of each node paid 25 round trips per node."""
from __future__ import annotations

import shlex
import uuid
from dataclasses import dataclass, field

FILE_TEXT_LIMIT = 256 * 1024        # bytes of a file's text kept; kubelet files are a few KiB
PATH_KINDS = ("socket", "file", "dir", "other", "none")


@dataclass(frozen=True)
class FactsRequest:
    """What a check area needs of every node."""
    paths: tuple[str, ...] = ()             # type of each; a regular file's text too
    processes: tuple[str, ...] = ()         # comm names (as /proc/PID/comm shows them)
    programs: tuple[str, ...] = ()          # installed on PATH?
    commands: tuple[tuple[str, str], ...] = ()   # (name, shell command): rc and output


@dataclass(frozen=True)
class Process:
    pid: int
    comm: str
    argv: tuple[str, ...]

    @property
    def args(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class Answer:
    rc: int
    output: str             # stdout and stderr together


@dataclass
class NodeFacts:
    node: str
    kinds: dict[str, str] = field(default_factory=dict)         # path -> one of PATH_KINDS
    texts: dict[str, str] = field(default_factory=dict)         # regular file -> its text
    processes: list[Process] = field(default_factory=list)
    programs: dict[str, bool] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)

    def exists(self, path: str) -> bool:
        return self._asked(self.kinds, path, "path") != "none"

    def kind(self, path: str) -> str:
        return self._asked(self.kinds, path, "path")

    def text(self, path: str) -> str | None:
        """A regular file's text (None when the path is not a regular file)."""
        self._asked(self.kinds, path, "path")
        return self.texts.get(path)

    def running(self, comm: str) -> list[Process]:
        return [p for p in self.processes if p.comm == comm]

    def has_program(self, name: str) -> bool:
        return self._asked(self.programs, name, "program")

    def answer(self, name: str) -> Answer:
        return self._asked(self.answers, name, "command")

    def _asked(self, table: dict, key: str, what: str):
        if key not in table:
            raise KeyError(f"node {self.node}: {what} {key!r} was not in the facts request")
        return table[key]


def script(request: FactsRequest, marker: str) -> str:
    """A POSIX sh script printing each fact after a line `<marker> <what> <key>`."""
    lines = []
    for path in request.paths:
        p = shlex.quote(path)
        lines.append(
            f"if [ -S {p} ]; then k=socket; elif [ -f {p} ]; then k=file; elif [ -d {p} ]; then k=dir; "
            f"elif [ -e {p} ] || [ -L {p} ]; then k=other; else k=none; fi; "
            f"echo \"{marker} path $k {path}\"; "
            f"if [ $k = file ]; then head -c {FILE_TEXT_LIMIT} {p} 2>/dev/null; echo; fi")
    if request.processes:
        wanted = "|".join(shlex.quote(c) for c in request.processes)
        lines.append(
            "for d in /proc/[0-9]*; do read -r c < $d/comm 2>/dev/null || continue; "
            f"case \"$c\" in {wanted}) echo \"{marker} proc ${{d#/proc/}} $c\"; "
            "tr '\\000' '\\n' < $d/cmdline 2>/dev/null; echo;; esac; done")
    for program in request.programs:
        lines.append(f"if command -v {shlex.quote(program)} >/dev/null 2>&1; then v=yes; else v=no; fi; "
                     f"echo \"{marker} program $v {program}\"")
    for name, command in request.commands:
        lines.append(f"o=$( ( {command} ) 2>&1 ); r=$?; echo \"{marker} answer $r {name}\"; "
                     "printf '%s\\n' \"$o\"")
    lines.append(f"echo \"{marker} end\"")
    return "\n".join(lines)


def parse(node: str, output: str, marker: str) -> NodeFacts:
    facts = NodeFacts(node)
    sections: list[tuple[list[str], list[str]]] = []
    for line in output.split("\n"):
        if line.startswith(marker + " "):
            sections.append((line[len(marker) + 1:].split(" ", 2), []))
        elif sections:
            sections[-1][1].append(line)
    if not sections or sections[-1][0] != ["end"]:
        raise ValueError(f"node {node}: the facts command stopped before its end "
                         f"(read {len(sections)} sections)")
    for head, body in sections[:-1]:
        what, value, key = head
        text = "\n".join(body)
        if what == "path":
            facts.kinds[key] = value
            if value == "file":
                facts.texts[key] = text
        elif what == "proc":
            facts.processes.append(Process(int(value), key, tuple(a for a in body if a)))
        elif what == "program":
            facts.programs[key] = value == "yes"
        elif what == "answer":
            facts.answers[key] = Answer(int(value), text.strip())
    return facts


class FactsUnread(RuntimeError):
    """The node ran the facts command but it failed."""


def gather(host, node: str, request: FactsRequest) -> NodeFacts:
    """The node's facts, read through host (a testinfra Host) in one command."""
    marker = f"@@crigate-{uuid.uuid4().hex}"
    result = host.run(script(request, marker))
    try:
        return parse(node, result.stdout, marker)
    except ValueError as err:
        raise FactsUnread(f"{err}; rc={result.rc}, stderr: {result.stderr.strip()[:300]!r}") from None
