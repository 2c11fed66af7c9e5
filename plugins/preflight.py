"""One look at the kubeconfig and the API server before anything runs, so a
wrong path, context or address is one line that says what to do, not the
same connection error in every check."""
from __future__ import annotations

import ssl
from pathlib import Path

import urllib3
import yaml
from kubernetes import client, config

TIMEOUT_S = 5


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


def check(kubeconfig: Path, context: str | None = None) -> str:
    """Raise PreflightError naming what is wrong and how to fix it; return the
    API server's address when it answers. Nothing is kept: each call asks
    (one per run; a cluster read again is read afresh)."""
    return _ask(_existing(kubeconfig), context)


def _existing(kubeconfig: Path) -> Path:
    kubeconfig = Path(kubeconfig).expanduser()
    if not kubeconfig.is_file():
        raise PreflightError(f"kubeconfig {kubeconfig} not found: pass --kubeconfig PATH or set "
                             "KUBECONFIG (EKS: aws eks update-kubeconfig --name CLUSTER)")
    return kubeconfig


def contexts(kubeconfig: Path) -> list[str]:
    """The kubeconfig's context names, in its order (crigate-gate --all-contexts)."""
    return _contexts(_existing(kubeconfig))[0]


def _ask(kubeconfig: Path, context: str | None) -> str:
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
        settings.retries = 0          # one try, TIMEOUT_S long: a dead address answers in seconds
        api = client.ApiClient(settings)
    except Exception as err:       # exec plugins (aws, gke-gcloud-auth-plugin) missing, bad certs
        raise PreflightError(f"kubeconfig {kubeconfig} (context {context or current}): cannot load "
                             f"credentials: {str(err).splitlines()[0][:200]}") from None
    host = api.configuration.host
    try:
        client.VersionApi(api).get_code(_request_timeout=TIMEOUT_S)
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
