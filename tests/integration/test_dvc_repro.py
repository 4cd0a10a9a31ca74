"""`dvc repro` of dvc.yaml and the stage library used by `climb run` give the same standardized data hash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from climbflow.pipeline_runner import ensure_sample_data
from climbflow.stages import execute

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _dvc(args: list[str], cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_dvc_repro_matches_stage_library_hash(tmp_path, params_factory):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "dvc.yaml", project)
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["sample_data"]["records"] = {"ptbxl": 60, "chexpert": 40}
    data["workspace"]["root"] = str(tmp_path / "dvc-workspace")
    (project / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    _dvc(["init", "--no-scm", "-q"], project)
    _dvc(["remote", "add", "-d", "local", str(tmp_path / "remote")], project)
    _dvc(["repro", "standardize@ptbxl"], project)
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    out = next(
        o for o in lock["stages"]["standardize@ptbxl"]["outs"] if o["path"] == "data/standardized/ptbxl"
    )
    _dvc(["push", "standardize@ptbxl"], project)
    assert (tmp_path / "remote" / "files" / "md5" / out["md5"][:2] / out["md5"][2:]).exists()

    # the same params through the library path `climb run` uses (sample data written by the runner)
    params = params_factory(
        {"ptbxl": str(tmp_path / "ws" / "sample" / "ptbxl")},
        **{"sample_data.records": {"ptbxl": 60, "chexpert": 40}},
    )
    ensure_sample_data(params)
    snap = execute("ingest", params, dataset="ptbxl")
    val = execute("validate", params, dataset="ptbxl", snapshot=snap.uri)
    std = execute("standardize", params, dataset="ptbxl", snapshot=snap.uri, validation=val.uri)
    assert std.extra["data_version"]["md5"] == out["md5"]

    # nothing changed -> dvc has nothing to do
    status = _dvc(["status", "standardize@ptbxl"], project)
    assert "changed" not in status
