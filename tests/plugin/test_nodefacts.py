"""nodefacts: one command reads a node's paths, processes, programs and
answers; run here on this machine through testinfra's local backend."""
from __future__ import annotations

import socket
import subprocess

import pytest
import testinfra
from crigate.nodefacts import FactsRequest, FactsUnread, gather, parse


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "config.yaml").write_text("a: 1\nb: two words\n")
    (tmp_path / "no-newline").write_text("last")
    (tmp_path / "dir").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "api.sock"))
    yield tmp_path
    sock.close()


def test_paths_are_typed_and_files_read_whole(tree):
    paths = tuple(str(tree / n) for n in ("config.yaml", "no-newline", "dir", "api.sock", "absent"))
    facts = gather(testinfra.get_host("local://"), "here", FactsRequest(paths=paths))
    assert [facts.kind(p) for p in paths] == ["file", "file", "dir", "socket", "none"]
    assert facts.text(paths[0]) == "a: 1\nb: two words\n"
    assert facts.text(paths[1]) == "last"
    assert facts.text(paths[2]) is None and not facts.exists(paths[4])


def test_processes_by_comm_with_their_argv():
    sleeper = subprocess.Popen(["sleep", "301"])
    try:
        facts = gather(testinfra.get_host("local://"), "here", FactsRequest(processes=("sleep",)))
        mine = [p for p in facts.running("sleep") if p.pid == sleeper.pid]
        assert mine and mine[0].argv == ("sleep", "301")
    finally:
        sleeper.kill()


def test_programs_and_answers_with_their_exit_codes():
    request = FactsRequest(programs=("sh", "no-such-program-crigate"),
                           commands=(("ok", "echo hello; echo err >&2"), ("bad", "exit 3")))
    facts = gather(testinfra.get_host("local://"), "here", request)
    assert facts.has_program("sh") and not facts.has_program("no-such-program-crigate")
    assert facts.answer("ok").rc == 0 and facts.answer("ok").output == "hello\nerr"
    assert facts.answer("bad").rc == 3


def test_a_fact_not_asked_for_is_an_error_not_an_absence():
    facts = parse("n1", "@@m end\n", "@@m")
    with pytest.raises(KeyError, match="node n1: path '/x' was not in the facts request"):
        facts.exists("/x")


def test_output_cut_short_is_unread_not_empty():
    request = FactsRequest(paths=("/etc/hostname",))
    with pytest.raises(ValueError, match="stopped before its end"):
        parse("n1", "@@m path file /etc/hostname\nnode-1", "@@m")

    class Dead:
        def run(self, command):
            return type("R", (), {"rc": 137, "stdout": "", "stderr": "error: pod not found"})()
    with pytest.raises(FactsUnread, match="rc=137.*pod not found"):
        gather(Dead(), "n1", request)


def test_a_file_holding_the_marker_text_cannot_end_the_read_early(tree):
    path = tree / "tricky"
    path.write_text("@@crigate-0000 end\n")
    facts = gather(testinfra.get_host("local://"), "here", FactsRequest(paths=(str(path),)))
    assert facts.text(str(path)) == "@@crigate-0000 end\n"


def test_an_exec_status_gives_the_commands_exit_code_or_the_execs_failure():
    from crigate.nodehost import HostRootBackend, exit_status
    assert exit_status("metadata: {}\nstatus: Success\n") == (0, "")
    failed = ('{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":'
              '[{"reason":"ExitCode","message":"3"}]}}')
    assert exit_status(failed) == (3, "")
    broken = '{"status":"Failure","message":"OCI runtime exec failed: error adding pid 7 to cgroups"}'
    assert exit_status(broken) == (HostRootBackend.EXEC_FAILED,
                                   "OCI runtime exec failed: error adding pid 7 to cgroups")
    assert exit_status("") == (HostRootBackend.EXEC_FAILED, "the exec ended without a status (connection cut)")
