"""Every task of the compiled pipelines is named by what it works on: in the Kubeflow UI (its display name), and
on the console of `climb run` (the display name plus the loop item, which KFP cannot put in a display name)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from climbflow.config import load
from climbflow.pipeline_runner import PIPELINES, compile_training, task_label

REPO = Path(__file__).resolve().parents[2]


def _dags(spec: dict) -> list[dict]:
    return [c["dag"]["tasks"] for c in [spec["root"], *spec["components"].values()] if "dag" in c]


def _constants(task: dict) -> dict[str, str]:
    params = task.get("inputs", {}).get("parameters", {})
    return {k: v["runtimeValue"]["constant"] for k, v in params.items() if "runtimeValue" in v}


@pytest.mark.parametrize("name", PIPELINES)
def test_display_names_say_what_each_task_works_on(tmp_path, name):
    compiled = compile_training(load(REPO / "params.yaml"), tmp_path / f"{name}.yaml", name)
    spec = next(iter(yaml.safe_load_all(compiled.read_text())))
    for tasks in _dags(spec):
        containers = {
            k: t for k, t in tasks.items() if "executorLabel" in spec["components"][t["componentRef"]["name"]]
        }
        names = [t["taskInfo"]["name"] for t in containers.values()]
        assert len(names) == len(set(names)), names  # no two tasks of one DAG look alike
        for key, task in containers.items():
            shown = task["taskInfo"]["name"]
            assert not re.search(r"-\d+$", shown), f"{key}: KFP's generated name {shown!r}"
            for field in ("target", "modality"):  # known at compile time: in the display name itself
                value = _constants(task).get(field)
                if isinstance(value, str):
                    assert value in shown.split(), (key, shown)
            loop_item = task.get("inputs", {}).get("parameters", {}).get("dataset", {})
            if "componentInputParameter" in loop_item:  # a ParallelFor body: the console adds the dataset
                assert task_label(shown, {"dataset": "ptbxl"}) == f"{shown} ptbxl"
