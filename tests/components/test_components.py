"""The KFP components: thin wrappers (checked through ``python_func``) that also run under ``kfp.local``."""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
from pathlib import Path

import pytest

from climbflow.stages import STAGES
from climbflow.stages.base import read_report


def _component(name):
    import importlib

    return getattr(importlib.import_module(f"components.{name}"), name)


@pytest.mark.parametrize("name", STAGES)
def test_wrapper_only_delegates_to_the_stage(name):
    """The stage runs through execute_json first; anything after it only presents the stage's output in the
    Kubeflow UI (reads its report / files), never imports the stage's own module."""
    comp = _component(name)
    func = ast.parse(textwrap.dedent(inspect.getsource(comp.python_func))).body[0]
    body = [
        node
        for node in func.body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    imp, call = body[0], body[1]
    assert isinstance(imp, ast.ImportFrom) and imp.module == "climbflow.tasks"
    assert [a.name for a in imp.names] == ["execute_json"]
    value = call.value
    assert isinstance(value, ast.Call) and value.func.id == "execute_json"
    assert value.args[0].value == name
    imported = {n.module for n in ast.walk(func) if isinstance(n, ast.ImportFrom)}
    assert not any(m.startswith(f"climbflow.stages.{s}") for m in imported for s in STAGES)
    assert isinstance(body[-1], ast.Return)
    container = comp.component_spec.implementation.container
    assert container.image.startswith("ghcr.io/climbflow/climbflow")
    assert "pip install" not in " ".join(container.command or [])


def test_ui_artifacts_are_declared():
    outputs = {n: o.type for n, o in _component("evaluate").component_spec.outputs.items()}
    assert outputs["metrics"].startswith("system.Metrics")
    assert outputs["classification"].startswith("system.ClassificationMetrics")
    assert outputs["report"].startswith("system.Markdown") and outputs["report_html"].startswith(
        "system.HTML"
    )
    assert _component("validate").component_spec.outputs["summary"].type.startswith("system.Markdown")


def test_configure_applies_the_ui_parameters_and_rejects_bad_keys(params_factory, tmp_path):
    from climbflow.config import ConfigError

    params = params_factory({"ptbxl": str(tmp_path / "ptbxl")})
    configure = _component("configure").python_func
    out = json.loads(
        configure(
            params_json=json.dumps(params.to_dict()),
            pretrain_epochs=3,
            finetune_epochs=2,
            batch_size=7,
            overrides={"finetune.lr": 0.0005},
            gpu_count=1,
            gpu_type="nvidia.com/gpu",
        )
    )
    assert (out["pretrain"]["epochs"], out["finetune"]["epochs"], out["finetune"]["batch_size"]) == (3, 2, 7)
    assert out["finetune"]["lr"] == 0.0005
    with pytest.raises(ConfigError, match="finetune.lrr"):
        configure(
            params_json=json.dumps(params.to_dict()),
            pretrain_epochs=3,
            finetune_epochs=2,
            batch_size=7,
            overrides={"finetune.lrr": 1},
            gpu_count=1,
            gpu_type="nvidia.com/gpu",
        )


@pytest.mark.parametrize(
    ("gpu_count", "overrides", "expected"),
    [
        (2, {}, (2, "ddp")),  # the GPU limit of the pod: pretrain uses every GPU it reserves, with DDP
        (8, {}, (8, "ddp")),
        (1, {}, (1, "auto")),
        (0, {}, (1, "auto")),  # 0 GPUs = CPU: one process
        (2, {"pretrain.strategy": "ddp_spawn"}, (2, "ddp_spawn")),  # the UI's overrides win
    ],
)
def test_configure_trains_pretrain_on_every_gpu_of_the_pod(
    params_factory, tmp_path, gpu_count, overrides, expected
):
    params = params_factory({"ptbxl": str(tmp_path / "ptbxl")})
    assert (params.pretrain.devices, params.pretrain.strategy) == (1, "auto")
    out = json.loads(
        _component("configure").python_func(
            params_json=json.dumps(params.to_dict()),
            pretrain_epochs=1,
            finetune_epochs=1,
            batch_size=4,
            overrides=overrides,
            gpu_count=gpu_count,
            gpu_type="nvidia.com/mig-1g.10gb",
        )
    )
    assert (out["pretrain"]["devices"], out["pretrain"]["strategy"]) == expected
    # what the run's pods got is recorded in the run's params (MLflow logs them: lineage)
    assert out["cluster"]["gpu_count"] == gpu_count
    assert out["cluster"]["accelerator_type"] == "nvidia.com/mig-1g.10gb"
    assert out["pretrain"]["num_nodes"] == 1


def test_python_func_runs_the_stage(sample_root, params_factory):
    params = params_factory({"ptbxl": str(sample_root / "ptbxl")})
    uri = _component("ingest").python_func(
        params_json=json.dumps(params.to_dict()), tracking_json="", pipeline_run_id="", dataset="ptbxl"
    )
    assert read_report(uri)["dataset"] == "ptbxl"


@pytest.mark.integration
def test_component_runs_under_kfp_local(sample_root, params_factory, tmp_path):
    from kfp import local

    params = params_factory({"chexpert": str(sample_root / "chexpert")})
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    task = _component("ingest")(
        params_json=json.dumps(params.to_dict()), tracking_json="", pipeline_run_id="", dataset="chexpert"
    )
    report = read_report(task.output)
    assert report["dataset"] == "chexpert" and report["n_files"] > 100
    val = _component("validate")(
        params_json=json.dumps(params.to_dict()),
        tracking_json="",
        pipeline_run_id="",
        dataset="chexpert",
        snapshot=task.output,
    )
    assert read_report(val.outputs["Output"])["passed"] is True
    summary = Path(val.outputs["summary"].path).read_text()
    assert "chexpert" in summary.lower()
