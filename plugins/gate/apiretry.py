"""Reads that survive a flaky API server: each failed read is retried with
exponential backoff and jitter, a Retry-After the server sends is honoured, and
all of it fits in one budget per cluster (--api-retry-budget).

What is retried, and why:
- HTTP 429: the API server's max-in-flight limit and API Priority and Fairness
  answer 429 with a Retry-After header when they turn a request away
  (https://kubernetes.io/docs/concepts/cluster-administration/flow-control/).
- HTTP 500, 502, 503, 504: an apiserver restarting, a load balancer with no
  healthy backend, etcd slow to answer; a read is safe to repeat.
- Connections refused, reset or closed mid-answer, TLS handshakes cut, reads
  that time out (--api-timeout).
Everything else (401, 403, 404, 410, ...) is an answer, returned to the caller
at once; a 410 on a continue token is the lister's to handle (inventory.py).

The budget counts the time lost to faults: failed attempts and the waits
between them. A read that still fails when the next wait would not fit raises
GaveUp, naming the fault and the tries; crigate-gate then cannot decide (exit 2),
it never decides from a partial read.
"""
from __future__ import annotations

import random
import ssl
import time
from collections import Counter
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TypeVar

T = TypeVar("T")

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
DEFAULT_BUDGET_S = 60.0        # time a cluster's reads may lose to faults, in all
DEFAULT_TIMEOUT_S = 30.0       # one read: connect, and each wait for bytes of the answer
FIRST_BACKOFF_S = 0.5          # the first wait without a Retry-After; doubles each try
MAX_BACKOFF_S = 8.0            # the longest such wait

BUDGET_HELP = ("time the reads of one cluster may lose to API faults (HTTP 429 and 5xx, resets, "
               "timeouts), retried with backoff and Retry-After; a read still failing then "
               f"means could not decide (default {DEFAULT_BUDGET_S:g})")
TIMEOUT_HELP = ("one API request: to connect, and for each wait on its answer's bytes "
                f"(default {DEFAULT_TIMEOUT_S:g})")


class GaveUp(RuntimeError):
    """A read that failed each time until the budget had no room for another try."""

    def __init__(self, fault: str, tries: int, lost_s: float, budget_s: float, why: str = ""):
        self.fault, self.tries, self.lost_s, self.budget_s = fault, tries, lost_s, budget_s
        tried = f"{tries} tries" if tries > 1 else "1 try"
        super().__init__(f"{fault} ({tried}, {lost_s:.1f} s lost to faults of the {budget_s:g} s "
                         f"retry budget{'; ' + why if why else ''})")


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks to wait: delay-seconds or an HTTP-date
    (RFC 9110, section 10.2.3); None when absent or not either form."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def causes(err: BaseException) -> list[BaseException]:
    """err and what it wraps: urllib3 keeps the socket error in .reason or in
    its args, Python in __cause__ and __context__."""
    found, todo = [], [err]
    while todo and len(found) < 12:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is f for f in found):
            continue            # None, or a reason given as text (ApiException's)
        found.append(e)
        todo += [getattr(e, "reason", None), e.__cause__, e.__context__,
                 *(a for a in e.args if isinstance(a, BaseException))]
    return found


def certificate_refused(err: BaseException) -> bool:
    """The server's certificate was not trusted (wrong CA, name, expired)."""
    return any(isinstance(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e)
               for e in causes(err))


def fault_of(err: BaseException) -> str | None:
    """The fault in words when err is worth another try; None when it is an answer."""
    if certificate_refused(err):        # an answer, not a fault: trying again changes nothing
        return None
    status = getattr(err, "status", None)
    if isinstance(status, int):
        if status == 0:                   # the kubernetes client's wrapping of TLS errors
            return "TLS handshake failed"
        return f"HTTP {status}" if status in RETRIED_STATUSES else None
    chain = causes(err)
    words = " ".join(f"{type(e).__name__} {e}" for e in chain)
    if any(isinstance(e, TimeoutError) for e in chain) or "Timeout" in words:
        return "timed out"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, (ConnectionResetError, BrokenPipeError)) for e in chain):
        return "connection reset"
    if any(name in words for name in ("IncompleteRead", "RemoteDisconnected", "ProtocolError")):
        return "connection closed mid-answer"
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return "TLS handshake failed"
    if any(isinstance(e, OSError) for e in chain) or type(err).__module__.startswith("urllib3"):
        return f"connection failed ({type(err).__name__})"
    return None


def retry_after_of(err: BaseException) -> float | None:
    headers = getattr(err, "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    return retry_after_s(value)


class Retrier:
    """Runs reads of one cluster; counts the faults they met (said in the
    verdict's notes) and the time lost to them (bounded by budget_s)."""

    def __init__(self, budget_s: float = DEFAULT_BUDGET_S, timeout_s: float = DEFAULT_TIMEOUT_S, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 jitter: Callable[[], float] = random.random,
                 retry_if: Callable[[str], bool] = lambda fault: True):
        self.budget_s, self.timeout_s, self.retry_if = budget_s, timeout_s, retry_if
        self.sleep, self.clock, self.jitter = sleep, clock, jitter
        self.lost_s = 0.0
        self.met: Counter[str] = Counter()       # fault in words -> times met

    def backoff_s(self, tries: int) -> float:
        """The wait after the tries-th failure without a Retry-After: "equal
        jitter" over an exponential ceiling (AWS Architecture Blog, "Exponential
        Backoff And Jitter", 2015), so clients that failed together do not
        come back together."""
        ceiling = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (tries - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2

    def call(self, read: Callable[[float], T]) -> T:
        """read(timeout_s) until it returns, or raise GaveUp; answers that are
        not faults (fault_of is None), and faults retry_if declines, are raised
        as they came."""
        tries = 0
        while True:
            tries += 1
            started = self.clock()
            try:
                return read(self.timeout_s)
            except Exception as err:
                fault = fault_of(err)
                if fault is None or not self.retry_if(fault):
                    raise
                self.lost_s += self.clock() - started
                self.met[fault] += 1
                asked = retry_after_of(err)
                wait = self.backoff_s(tries) if asked is None else asked
                left = self.budget_s - self.lost_s
                if wait > left:
                    why = (f"the server asked to retry after {asked:g} s, {max(left, 0):.1f} s of the budget "
                           "left" if asked is not None and asked > left else "")
                    raise GaveUp(fault, tries, self.lost_s, self.budget_s, why) from None
                self.sleep(wait)
                self.lost_s += wait

    def summary(self) -> str:
        """The faults met and survived, in words ('' when none)."""
        if not self.met:
            return ""
        faults = ", ".join(f"{fault} x{n}" for fault, n in sorted(self.met.items()))
        return (f"API faults met and retried: {faults}; {self.lost_s:.1f} s of the "
                f"{self.budget_s:g} s retry budget spent")
