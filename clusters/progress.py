"""Run long commands with a heartbeat, keeping their output in a log file."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

HEARTBEAT_SECONDS = 30


class StepFailed(RuntimeError):
    pass


def stop(proc: subprocess.Popen, signum: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Ask a child to end (signum), wait up to timeout, then kill it; reaped either way."""
    if proc.poll() is not None:
        return
    proc.send_signal(signum)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(title: str):
    """Print a step's start and end with its duration."""
    say(f"==> {title}")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"<== {title}: failed after {time.monotonic() - started:.0f}s")
        raise
    say(f"<== {title}: done in {time.monotonic() - started:.1f}s")


def _last_line(path: Path) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - 400))
            lines = f.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:120] if lines else ""
    except OSError:
        return ""


def run_logged(cmd: list[str], log: Path, *, env: dict | None = None,
               cwd: Path | None = None, title: str | None = None) -> None:
    """Run cmd with output to log; print a heartbeat; on failure show the log's tail."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    started = time.monotonic()
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env=full_env, cwd=cwd, stdin=subprocess.DEVNULL)
        stop = threading.Event()

        def heartbeat():
            while not stop.wait(HEARTBEAT_SECONDS):
                say(f"    ... {title or cmd[0]}: {time.monotonic() - started:.0f}s"
                    f"  {_last_line(log)}")

        threading.Thread(target=heartbeat, daemon=True).start()
        try:
            rc = proc.wait()
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
        finally:
            stop.set()
    if rc != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise StepFailed(f"{' '.join(cmd[:4])} ... exited {rc}; last lines of {log}:\n  "
                         + "\n  ".join(tail))
