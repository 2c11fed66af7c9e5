"""A failed `docker ...` says what docker said, not only its exit status."""
from __future__ import annotations

import subprocess

import pytest
from crigate.testbed.engine import docker


@pytest.fixture
def failing_docker(tmp_path, monkeypatch):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'partial output'\n"
                    "echo 'Error response from daemon: No such container: n1' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


def test_the_error_holds_the_command_and_what_docker_said(failing_docker):
    with pytest.raises(subprocess.CalledProcessError) as failed:   # callers catch this class
        docker("exec", "n1", "true")
    message = str(failed.value)
    assert "'docker', 'exec', 'n1', 'true'" in message and "exit status 1" in message
    assert "No such container: n1" in message and "partial output" in message


def test_unchecked_failures_are_returned(failing_docker):
    done = docker("exec", "n1", "true", check=False)
    assert done.returncode == 1 and "No such container" in done.stderr
