"""Each rendered workload runs a real service, probed and reached on the port it serves.

The claims are checked against the code, not against a copy of it: the CLI's commands,
the Settings a pod would load from its rendered environment, and the policy it mounts.
"""

from __future__ import annotations

import argparse
import re
from urllib.parse import urlsplit

import pytest

from escalation.cli.main import cmd_service, parser
from escalation.services.common.settings import Settings

from .manifests import (
    POD_IP,
    TARGETS,
    by_name,
    container,
    environment,
    render,
    service_name,
    settings_from,
    workloads,
)
from .test_dockerfile import final_stage

BASE_SERVICES = sorted(service_name(w) for w in workloads(render("base")).values())


def cli_services() -> set[str]:
    """The services `escalation <name>` runs, less the embedded stack's page sink."""
    (sub,) = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    runs = {name for name, p in sub.choices.items() if p.get_default("func") is cmd_service}
    return runs - {"sink"}


def port_setting(service: str) -> str:
    name = f"{service}_port"
    assert name in Settings.model_fields, f"Settings has no {name}"
    return name


def test_every_service_the_cli_runs_is_deployed():
    assert cli_services() <= set(BASE_SERVICES), "a service with no Deployment in base"


@pytest.mark.parametrize("service", BASE_SERVICES)
def test_every_workload_runs_a_cli_service(service):
    assert service in cli_services(), f"`escalation {service}` is no command"


def each_workload():
    for target in TARGETS:
        for name in sorted(workloads(render(target))):
            yield pytest.param(target, name, id=f"{target}:{name}")


@pytest.mark.parametrize(("target", "name"), list(each_workload()))
def test_probes_and_service_reach_the_port_the_service_serves(target, name, monkeypatch):
    objects = render(target)
    workload = workloads(objects)[name]
    spec = container(workload)
    settings = settings_from(environment(objects, workload), monkeypatch)
    serves = getattr(settings, port_setting(service_name(workload)))
    named = {p["name"]: p["containerPort"] for p in spec["ports"]}
    assert named.get("http") == serves, f"{name} serves on {serves}, its port `http` is {named}"
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = spec[probe]["httpGet"]
        assert get["path"] == path
        assert named.get(get["port"], get["port"]) == serves, f"{name} {probe} port {get['port']}"
    service = by_name(objects, "Service")[name]
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    assert named.get(port["targetPort"], port["targetPort"]) == serves
    assert port["port"] == serves, "other services reach it at the port it uses locally"


@pytest.mark.parametrize(("target", "name"), list(each_workload()))
def test_environment_is_settings_the_services_read(target, name, monkeypatch):
    objects = render(target)
    workload = workloads(objects)[name]
    env = environment(objects, workload)
    policy = by_name(objects, "ConfigMap")["escalation-policy"]["data"]["policy.yaml"]
    read_by_policy = set(re.findall(r"\$\{(\w+)", policy)) | set(
        re.findall(r"env:\s*(\w+)", policy)
    )
    fields = {f"ESCALATION_{field.upper()}" for field in Settings.model_fields}
    raw = [item.get("value", "") for item in container(workload).get("env", [])]
    referenced = {m for value in raw for m in re.findall(r"\$\((\w+)\)", value)}
    for variable in env:
        if variable.startswith("ESCALATION_"):
            assert variable in fields | read_by_policy, f"{name}: nothing reads {variable}"
        else:
            assert variable in referenced, f"{name}: {variable} is set but never used"
    settings = settings_from(env, monkeypatch)  # refuses what the service would refuse
    if service_name(workload) in ("intake", "pager"):
        assert settings.link_key_values(), "intake and the pager need a link key"


@pytest.mark.parametrize(("target", "name"), list(each_workload()))
def test_non_root_read_only_with_writable_volumes_where_needed(target, name, monkeypatch):
    objects = render(target)
    workload = workloads(objects)[name]
    pod = workload["spec"]["template"]["spec"]
    spec = container(workload)
    assert pod["securityContext"]["runAsNonRoot"] is True
    (image_user,) = [args for keyword, args in final_stage() if keyword == "USER"]
    assert pod["securityContext"]["runAsUser"] == int(image_user.split(":")[0])
    context = spec["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in spec["volumeMounts"]}
    settings = settings_from(environment(objects, workload), monkeypatch)
    for writable in (str(settings.data_dir), "/tmp"):
        assert "emptyDir" in mounts.get(writable, {}), f"{name}: {writable} is not writable"
    policy = mounts.get(str(settings.policy.parent), {})
    assert policy.get("configMap", {}).get("name") == "escalation-policy"
    assert settings.policy.name in by_name(objects, "ConfigMap")["escalation-policy"]["data"]
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        assert settings.kafka_ssl_cafile is not None, f"{name}: TLS without the cluster CA"
        ca = mounts.get(str(settings.kafka_ssl_cafile.parent), {})
        assert "secret" in ca, f"{name}: {settings.kafka_ssl_cafile} is mounted from no Secret"
        assert settings.kafka_ssl_cafile.name in [i["path"] for i in ca["secret"]["items"]]


@pytest.mark.parametrize(("target", "name"), list(each_workload()))
def test_requests_limits_and_a_disruption_budget(target, name):
    objects = render(target)
    workload = workloads(objects)[name]
    resources = container(workload)["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= resources.get(kind, {}).keys(), f"{name}: {kind}"
    budget = by_name(objects, "PodDisruptionBudget")[name]
    labels = workload["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("target", TARGETS)
def test_intake_and_router_autoscale_within_the_partitions(target, monkeypatch):
    objects = render(target)
    scalers = by_name(objects, "HorizontalPodAutoscaler")
    assert {"intake", "router"} <= scalers.keys()
    for name, scaler in scalers.items():
        workload = workloads(objects)[scaler["spec"]["scaleTargetRef"]["name"]]
        assert "replicas" not in workload["spec"], f"{name}: the autoscaler owns replicas"
        assert scaler["spec"]["minReplicas"] <= scaler["spec"]["maxReplicas"]
        if service_name(workload) != "intake":  # consumers: one partition per pod at most
            settings = settings_from(environment(objects, workload), monkeypatch)
            assert scaler["spec"]["maxReplicas"] <= settings.kafka_partitions, name


@pytest.mark.parametrize("target", TARGETS)
def test_escalators_advertise_their_own_pod_address(target, monkeypatch):
    objects = render(target)
    escalator = workloads(objects)["escalator"]
    settings = settings_from(environment(objects, escalator), monkeypatch)
    assert settings.escalator_own_url == f"http://{POD_IP}:{settings.escalator_port}"
    intake = workloads(objects)["intake"]
    query = urlsplit(settings_from(environment(objects, intake), monkeypatch).escalator_query_url)
    service = by_name(objects, "Service")[query.hostname]
    assert service["spec"]["selector"]["app.kubernetes.io/name"] == "escalator"
    assert query.port == service["spec"]["ports"][0]["port"]


@pytest.mark.parametrize("target", TARGETS)
def test_network_policies_deny_by_default_and_let_intake_in(target):
    objects = render(target)
    policies = by_name(objects, "NetworkPolicy")
    deny = policies["escalation-default-deny"]["spec"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny
    for workload in workloads(objects).values():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert deny["podSelector"]["matchLabels"].items() <= labels.items()
    (rule,) = policies["intake"]["spec"]["ingress"]
    assert "from" not in rule, "intake takes requests from anywhere"
    escalator_from = policies["escalator"]["spec"]["ingress"][0]["from"]
    peers = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in escalator_from
    }
    assert peers == {"intake", "escalator"}
