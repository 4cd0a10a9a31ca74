"""dvc.yaml follows params.yaml: its stages come from `finetune.targets` and `pretrain.modalities` (real DVC parses
the file; nothing is reproduced), and `climb stage` resolves dvc.yaml's collection folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from climbflow.cli import _collection_folders

REPO = Path(__file__).resolve().parents[2]


def _stages(tmp_path: Path, targets: list[str], modalities: list[str]) -> set[str]:
    shutil.copy(REPO / "dvc.yaml", tmp_path)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["finetune"]["targets"] = targets
    params["pretrain"]["modalities"] = modalities
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True, env=env)
    listed = subprocess.run(
        [sys.executable, "-m", "dvc", "stage", "list", "--name-only"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(listed.split())


def test_enabling_a_target_in_params_is_all_dvc_yaml_needs(tmp_path):
    stages = _stages(tmp_path, ["ptbxl", "chapman"], ["ecg"])
    for dataset in ("ptbxl", "chapman"):
        for stage in ("sample_data", "ingest", "validate", "standardize", "finetune", "evaluate"):
            assert f"{stage}@{dataset}" in stages
    assert {s for s in stages if s.startswith("pretrain@")} == {"pretrain@ecg"}
    assert not any(s.endswith("@chexpert") for s in stages)


def test_collection_folders_expand_to_the_stores_and_the_targets_encoder(tmp_path):
    for name in ("ptbxl", "chexpert"):
        (tmp_path / "standardized" / name).mkdir(parents=True)
        (tmp_path / "standardized" / name / "labels.json").write_text(json.dumps({"dataset": name}))
    (tmp_path / "standardized" / "not-a-store").mkdir()
    for modality in ("ecg", "image2d"):
        (tmp_path / "pretrain" / modality).mkdir(parents=True)
        (tmp_path / "pretrain" / modality / "report.json").write_text("{}")
    store = str(tmp_path / "standardized" / "ptbxl")

    pretrain = _collection_folders({"modality": "ecg", "standardized": [str(tmp_path / "standardized")]})
    assert pretrain["standardized"] == [str(tmp_path / "standardized" / n) for n in ("chexpert", "ptbxl")]

    finetune = _collection_folders(
        {"target": "chexpert", "pretrained": str(tmp_path / "pretrain"), "standardized": [store]}
    )
    assert finetune["pretrained"] == str(tmp_path / "pretrain" / "image2d")
    assert finetune["standardized"] == [store]  # a store itself is passed as given

    encoder = str(tmp_path / "pretrain" / "ecg")
    assert _collection_folders({"target": "ptbxl", "pretrained": encoder})["pretrained"] == encoder


def test_stage_help_still_lists_the_inputs():
    result = CliRunner().invoke(__import__("climbflow.cli", fromlist=["app"]).app, ["stage", "--help"])
    assert result.exit_code == 0 and "--standardized" in result.output
