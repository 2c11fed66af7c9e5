"""cancel: SIGTERM tears down as Ctrl-C does; a signal during a delete waits for it."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = textwrap.dedent("""
    import sys, time
    from crigate import cancel
    cancel.sigterm_interrupts()
    mode = sys.argv[1]
    try:
        if mode == "held":
            with cancel.held_signals("deleting cluster x"):
                print("deleting", flush=True)
                time.sleep(1.5)
                print("deleted", flush=True)
        else:
            print("working", flush=True)
            time.sleep(30)
    except KeyboardInterrupt as err:
        print(f"interrupted: {err}", flush=True)
        sys.exit(130)
""")


def run_and_signal(mode: str, signum: int) -> tuple[int, str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, mode], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    child.stdout.readline()                 # it is inside the block
    time.sleep(0.2)
    child.send_signal(signum)
    out, _ = child.communicate(timeout=20)
    return child.returncode, out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_cancel_signal_interrupts_like_ctrl_c(signum):
    rc, out = run_and_signal("plain", signum)
    assert rc == 130 and "interrupted" in out, out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_delete_waits_for_its_end_then_interrupts(signum):
    rc, out = run_and_signal("held", signum)
    assert "finishing deleting cluster x first" in out and "deleted" in out, out
    assert out.index("deleted") < out.index("interrupted") and rc == 130, out
    assert f"signal {signal.Signals(signum).name} (held while deleting cluster x)" in out
