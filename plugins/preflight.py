"""One look at the kubeconfig and the API server before anything runs, so a
wrong path, context or address is one line that says what to do, not the
same connection error in every check.

A server that answered but failed (HTTP 429 or 5xx, a connection reset or cut
mid-answer: a restarting apiserver, a busy one, a load balancer between
backends) is asked again within a short budget; nothing answering at all
(refused, no such host, no answer in TIMEOUT_S) fails at once."""
from __future__ import annotations

import ssl
from pathlib import Path

import urllib3
import yaml
from kubernetes import client, config

from .gate.apiretry import DEFAULT_BUDGET_S, GaveUp, Retrier

TIMEOUT_S = 5
RETRY_BUDGET_S = 10.0     # at most; a smaller --api-retry-budget is the cap
ANSWERED_FAULTS = ("HTTP ", "connection reset", "connection closed mid-answer")


class PreflightError(RuntimeError):
    pass


def _contexts(path: Path) -> tuple[list[str], str | None]:
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as err:
        raise PreflightError(f"kubeconfig {path}: cannot read it ({err.strerror or err}); pass "
                             "--kubeconfig PATH or set KUBECONFIG") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise PreflightError(f"kubeconfig {path}: not valid YAML{where}; regenerate it (EKS: aws eks "
                             "update-kubeconfig --name CLUSTER, kind: kind get kubeconfig)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("contexts"), list):
        raise PreflightError(f"kubeconfig {path}: holds no contexts (is it a kubeconfig?); "
                             "regenerate it or pass the right --kubeconfig")
    names = [c.get("name") for c in doc["contexts"] if isinstance(c, dict)]
    return [n for n in names if n], doc.get("current-context") or None


def check(kubeconfig: Path, context: str | None = None, *, retry_budget_s: float = DEFAULT_BUDGET_S) -> str:
    """Raise PreflightError naming what is wrong and how to fix it; return the
    API server's address when it answers. Nothing is kept: each call asks
    (one per run; a cluster read again is read afresh)."""
    retrier = Retrier(min(retry_budget_s, RETRY_BUDGET_S), TIMEOUT_S,
                      retry_if=lambda fault: fault.startswith(ANSWERED_FAULTS))
    return _ask(_existing(kubeconfig), context, retrier)


def _existing(kubeconfig: Path) -> Path:
    kubeconfig = Path(kubeconfig).expanduser()
    if not kubeconfig.is_file():
        raise PreflightError(f"kubeconfig {kubeconfig} not found: pass --kubeconfig PATH or set "
                             "KUBECONFIG (EKS: aws eks update-kubeconfig --name CLUSTER)")
    return kubeconfig


def contexts(kubeconfig: Path) -> list[str]:
    """The kubeconfig's context names, in its order (crigate-gate --all-contexts)."""
    return _contexts(_existing(kubeconfig))[0]


def _ask(kubeconfig: Path, context: str | None, retrier: Retrier) -> str:
    names, current = _contexts(kubeconfig)
    if context and context not in names:
        raise PreflightError(f"kubeconfig {kubeconfig}: no context {context!r}; it has "
                             f"{', '.join(names) or 'none'} (kubectl config get-contexts)")
    if not context and not current:
        raise PreflightError(f"kubeconfig {kubeconfig}: no current context; pass --context NAME "
                             f"(one of {', '.join(names) or 'none'})")
    try:
        settings = client.Configuration()
        config.load_kube_config(str(kubeconfig), context, client_configuration=settings)
        settings.retries = 0          # the retrier's tries only, TIMEOUT_S long each
        api = client.ApiClient(settings)
    except Exception as err:       # exec plugins (aws, gke-gcloud-auth-plugin) missing, bad certs
        raise PreflightError(f"kubeconfig {kubeconfig} (context {context or current}): cannot load "
                             f"credentials: {str(err).splitlines()[0][:200]}") from None
    host = api.configuration.host
    try:
        retrier.call(lambda timeout_s: client.VersionApi(api).get_code(_request_timeout=timeout_s))
    except GaveUp as err:
        state = "kept failing" if err.fault.startswith("HTTP ") else "is unreachable"
        raise PreflightError(f"API server {host} (context {context or current}) {state}: {err}; "
                             "it may be restarting or overloaded: try again, or raise "
                             "--api-retry-budget") from None
    except client.ApiException as err:
        if err.status in (401, 403):
            raise PreflightError(f"API server {host} refused the credentials of context "
                                 f"{context or current} (HTTP {err.status}); refresh them "
                                 "(EKS: aws sts get-caller-identity, aws eks update-kubeconfig)") from None
        raise PreflightError(f"API server {host}: HTTP {err.status} {err.reason}") from None
    except (urllib3.exceptions.HTTPError, ssl.SSLError, OSError) as err:
        reason = str(getattr(err, "reason", None) or err).splitlines()[0][:200]
        raise PreflightError(f"API server {host} (context {context or current}) is unreachable: "
                             f"{reason}; check the address, VPN and that the cluster runs "
                             "(kubectl cluster-info)") from None
    finally:
        api.close()
    return host
