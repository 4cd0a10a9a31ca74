"""The KFP components: thin wrappers (checked through ``python_func``) that also run under ``kfp.local``."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap

import pytest

from climbflow.stages import STAGES
from climbflow.stages.base import read_report


def _component(name):
    import importlib

    return getattr(importlib.import_module(f"components.{name}"), name)


@pytest.mark.parametrize("name", STAGES)
def test_wrapper_only_delegates_to_the_stage(name):
    comp = _component(name)
    func = ast.parse(textwrap.dedent(inspect.getsource(comp.python_func))).body[0]
    body = [
        node
        for node in func.body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    assert len(body) == 2, "no logic in a component wrapper"
    imp, ret = body
    assert isinstance(imp, ast.ImportFrom) and imp.module == "climbflow.stages"
    assert [a.name for a in imp.names] == ["execute_json"]
    assert isinstance(ret, ast.Return) and ret.value.func.id == "execute_json"
    assert ret.value.args[0].value == name
    container = comp.component_spec.implementation.container
    assert container.image.startswith("ghcr.io/climbflow/climbflow")
    assert "pip install" not in " ".join(container.command or [])


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
    task = _component("ingest")(
        params_json=json.dumps(params.to_dict()), tracking_json="", dataset="chexpert"
    )
    report = read_report(task.output)
    assert report["dataset"] == "chexpert" and report["n_files"] > 100
    val = _component("validate")(
        params_json=json.dumps(params.to_dict()), tracking_json="", dataset="chexpert", snapshot=task.output
    )
    assert read_report(val.output)["passed"] is True
