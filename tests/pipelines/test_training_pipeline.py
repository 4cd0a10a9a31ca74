"""The compiled training pipeline (the YAML users upload to the Kubeflow UI): its structure and parameters."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from climbflow.config import load
from climbflow.pipeline_runner import compile_training

REPO = Path(__file__).resolve().parents[2]


def _compiled(tmp_path) -> dict:
    path = compile_training(load(REPO / "params.yaml"), tmp_path / "training.yaml")
    return yaml.safe_load(path.read_text())


def test_compiles_with_the_stage_chain(tmp_path):
    spec = _compiled(tmp_path)
    assert spec["pipelineInfo"]["name"] == "climb-training"
    root = spec["root"]["dag"]["tasks"]
    loop = next(t for name, t in root.items() if name.startswith("for-loop"))
    inner = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    assert set(inner) == {"ingest", "validate", "standardize"}
    assert inner["validate"]["dependentTasks"] == ["ingest"]
    assert sorted(inner["standardize"]["dependentTasks"]) == ["ingest", "validate"]
    names = {t["taskInfo"]["name"] for t in root.values()}
    assert {
        "pretrain ecg",
        "pretrain image2d",
        "finetune ptbxl",
        "evaluate ptbxl",
        "finetune chexpert",
        "evaluate chexpert",
    } <= names


def test_parameters_editable_in_the_ui_default_to_params_yaml(tmp_path):
    spec = _compiled(tmp_path)
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert set(inputs) == {"params_json", "tracking_json", "datasets"}
    assert inputs["datasets"]["defaultValue"] == ["ptbxl", "chexpert"]
    defaults = json.loads(inputs["params_json"]["defaultValue"])
    assert defaults["pretrain"]["epochs"] == load(REPO / "params.yaml").pretrain.epochs


def test_components_use_our_image_and_never_pip_install(tmp_path):
    spec = _compiled(tmp_path)
    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) >= 6
    for ex in executors.values():
        container = ex["container"]
        assert container["image"].startswith("ghcr.io/climbflow/climbflow")
        assert "pip install" not in " ".join(container["command"])
        assert "climbflow.stages" in " ".join(container["command"])
