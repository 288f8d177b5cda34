"""Every overlay renders with kustomize and every object is valid for Kubernetes.

Built-in kinds are checked against the API's own JSON schemas (kubernetes-validate,
strict: an unknown field is an error, as ``kubectl apply --validate=strict`` makes it);
custom resources against crd_schemas.py. An object of any other kind fails.
"""

from __future__ import annotations

import jsonschema
import kubernetes_validate
import pytest

from .crd_schemas import CUSTOM
from .manifests import TARGETS, render

OLDEST, NEWEST = "1.30.0", "1.37.0"
"""The Kubernetes releases the manifests are checked against (matchLabelKeys needs 1.27+)."""


def test_there_are_dev_and_prod_overlays():
    assert {"overlays/dev", "overlays/prod"} <= set(TARGETS)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("version", [OLDEST, NEWEST])
def test_every_object_is_valid(target, version):
    problems = []
    for obj in render(target):
        where = f"{target}: {obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in CUSTOM:
            validator = jsonschema.Draft202012Validator(CUSTOM[obj["kind"]])
            problems += [f"{where}: {e.json_path}: {e.message}" for e in validator.iter_errors(obj)]
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{where}: {exc.message}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("target", TARGETS)
def test_names_are_unique_per_kind(target):
    seen = [(o["kind"], o["metadata"]["name"]) for o in render(target)]
    assert len(seen) == len(set(seen))
