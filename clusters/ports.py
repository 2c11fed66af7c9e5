"""Loopback ports for the test bed's own servers (kwok's API server,
Toxiproxy, a registry) and for a cluster that is down in tests."""
from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port nothing listens on now (the kernel's pick; it may be
    taken again before use, so callers that bind it soon after are the safe ones)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
