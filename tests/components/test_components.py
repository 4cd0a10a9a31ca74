"""The KFP components: thin wrappers (checked through ``python_func``) that also run under ``kfp.local``."""

from __future__ import annotations

import inspect
import json

import pytest

from climbflow.stages import STAGES
from climbflow.stages.base import read_report


def _component(name):
    import importlib

    return getattr(importlib.import_module(f"components.{name}"), name)


@pytest.mark.parametrize("name", STAGES)
def test_wrapper_only_delegates_to_the_stage(name):
    comp = _component(name)
    source = inspect.getsource(comp.python_func)
    body = [line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith(("@", "def", '"""'))]
    assert body[0] == "from climbflow.stages import execute_json"
    assert body[1].startswith(f'return execute_json("{name}", params_json, tracking_json')
    assert len(body) == 2, "no logic in a component wrapper"
    spec = comp.component_spec
    assert spec.implementation.container.image.startswith("ghcr.io/climbflow/") or spec.implementation.container.image
    assert "pip install" not in " ".join(spec.implementation.container.command or [])


def test_python_func_runs_the_stage(sample_root, params_factory):
    params = params_factory({"ptbxl": str(sample_root / "ptbxl")})
    uri = _component("ingest").python_func(
        params_json=json.dumps(params.to_dict()), tracking_json="", dataset="ptbxl"
    )
    assert read_report(uri)["dataset"] == "ptbxl"


@pytest.mark.integration
def test_component_runs_under_kfp_local(sample_root, params_factory, tmp_path):
    from kfp import local

    params = params_factory({"chexpert": str(sample_root / "chexpert")})
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    task = _component("ingest")(params_json=json.dumps(params.to_dict()), tracking_json="", dataset="chexpert")
    report = read_report(task.output)
    assert report["dataset"] == "chexpert" and report["n_files"] > 100
    val = _component("validate")(
        params_json=json.dumps(params.to_dict()), tracking_json="", dataset="chexpert", snapshot=task.output
    )
    assert read_report(val.output)["passed"] is True
