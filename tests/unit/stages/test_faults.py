"""Faults injected into real stage runs: SIGKILL of `climb stage` (standardize, dvc push, pretrain) and of
model registration, disk full (ENOSPC injected, and a real 2 MiB tmpfs), MLflow unreachable. Re-running the same
command ends with outputs hash-identical to an uninterrupted run; readers never see a partial output."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from climbflow.stages import execute, ingest, pretrain, standardize, validate
from climbflow.stages.base import DiskFull
from climbflow.store.faults import KILL_ENV
from climbflow.store.versioning import read_dvc_file

REPO = Path(__file__).resolve().parents[3]
TINY = {
    "standardize.shard_size": 8,
    "standardize.workers": 1,
    "pretrain.epochs": 2,
    "pretrain.steps_per_epoch": 3,
    "pretrain.batch_size": 8,
    "pretrain.warmup_steps": 1,
    "pretrain.checkpoint_every_n_steps": 2,
    "pretrain.encoders.ecg": {"width": 4, "depth": 1, "dropout": 0.1},
    "finetune.epochs": 1,
    "finetune.steps_per_epoch": 2,
    "finetune.batch_size": 8,
}


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != KILL_ENV}
    env["PYTHONPATH"] = f"{REPO / 'src'}{os.pathsep}{REPO}"
    env["CLIMBFLOW_NUM_THREADS"] = "1"
    return {**env, **extra}


def _climb(tmp_path: Path, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "climbflow.cli", "stage", *args, "--params", str(tmp_path / "params.yaml")]
    env = _env(**({KILL_ENV: kill_at} if kill_at else {}))
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def _visible(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if not p.name.startswith(".")) if parent.exists() else []


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".")) if parent.exists() else []


@pytest.fixture
def validated(tmp_path, params_factory):
    from climbflow import sampledata

    src = sampledata.write("ptbxl", tmp_path / "raw" / "ptbxl", 40, seed=0)
    params = params_factory({"ptbxl": str(src)}, **TINY)
    snap = ingest.run(params, "ptbxl")
    val = validate.run(params, "ptbxl", snap.uri)
    return params, snap.uri, val.uri


def _remote_objects(params) -> set[str]:
    remote = Path(params.workspace.root) / "dvc-remote"
    return (
        {p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file()}
        if remote.exists()
        else set()
    )


def test_kill_during_standardize_and_dvc_push_then_rerun_is_identical(validated, tmp_path):
    params, snap, val = validated
    snapshot_objects = _remote_objects(params)  # ingest pushed the raw snapshot
    ref = standardize.run(params, "ptbxl", snap, val)  # uninterrupted
    store, ws = Path(ref.uri), Path(params.workspace.root)
    expected, md5 = _tree(store), ref.extra["data_version"]["md5"]
    remote = _remote_objects(params) - snapshot_objects
    assert ref.report["n_shards"] == 5 and len(remote) > 5
    shutil.rmtree(store)
    store.with_name(store.name + ".dvc").unlink()
    shutil.rmtree(ws / "dvc-remote")
    shutil.rmtree(ws / ".dvc" / "cache")
    args = ["standardize", "--dataset", "ptbxl", "--snapshot", snap, "--validation", val]

    killed = _climb(tmp_path, *args, kill_at="standardize.sample@20")  # mid-shard 3 of 5
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _visible(store.parent) == []  # nothing published, not even a partial manifest
    assert [h for h in _hidden(store.parent) if ".tmp-" in h]  # the staging dir the kill left behind

    killed = _climb(tmp_path, *args, kill_at="dvc.push")  # store published, `dvc add` done, push not
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert _tree(store) == expected
    assert not [h for h in _hidden(store.parent) if ".tmp-" in h]  # the stale staging dir was removed
    half = read_dvc_file(store)
    assert half is not None and half.md5 == md5 and not half.pushed and _remote_objects(params) == set()

    done = _climb(tmp_path, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["data_version"]["md5"] == md5
    assert _tree(store) == expected and read_dvc_file(store).pushed
    assert _remote_objects(params) == remote  # every object reached the remote


@pytest.mark.integration  # ~30-50 s: four training runs in subprocesses
def test_kill_during_pretrain_resumes_to_identical_weights(validated, tmp_path):
    params, snap, val = validated
    store = standardize.run(params, "ptbxl", snap, val).uri
    out = tmp_path / "pretrained"
    ref = pretrain.run(params, "ecg", [store], out=str(out))  # uninterrupted
    expected = _tree(out)
    shutil.copyfile(out / "model.ckpt", tmp_path / "reference.ckpt")
    shutil.rmtree(out)
    args = ["pretrain", "--modality", "ecg", "--standardized", store, "--out", str(out)]

    killed = _climb(tmp_path, *args, kill_at="train.step@5")  # after step 5, last checkpoint at step 4
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not out.exists() and (tmp_path / "pretrained.ckpt" / "last.ckpt").exists()

    done = _climb(tmp_path, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from" in done.stderr
    got = _tree(out)
    assert got.pop("model.ckpt") and expected.pop("model.ckpt")
    assert got == expected, "resumed training differs from the uninterrupted run"  # encoder.pt, report.json
    # the Lightning checkpoint: identical weights and optimizer state (its loop bookkeeping records the restart)
    import torch

    a, b = (
        torch.load(p, map_location="cpu", weights_only=False)
        for p in (tmp_path / "reference.ckpt", out / "model.ckpt")
    )
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert (
        _flat(a["optimizer_states"]) == _flat(b["optimizer_states"]) and a["global_step"] == b["global_step"]
    )
    assert json.loads(done.stdout)["report"]["metrics"] == ref.report["metrics"]
    assert not (tmp_path / "pretrained.ckpt").exists()


def _flat(obj) -> str:
    """A hash of nested dicts/lists of tensors and numbers."""
    import torch

    h = hashlib.sha256()

    def walk(x) -> None:
        if isinstance(x, torch.Tensor):
            h.update(x.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(x, dict):
            for k in sorted(x, key=str):
                h.update(str(k).encode())
                walk(x[k])
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        else:
            h.update(repr(x).encode())

    walk(obj)
    return h.hexdigest()


def test_corrupt_last_checkpoint_restarts_cleanly(tmp_path):
    from climbflow.train.resume import LAST, resumable_checkpoint

    (tmp_path / LAST).write_bytes(b"PK\x03\x04 cut short by a crash")
    assert resumable_checkpoint(tmp_path, "fp") is None and not (tmp_path / LAST).exists()


REGISTER = """
import sys
from climbflow.config import load
from climbflow.pipeline_runner import resolve_paths
from climbflow.registry import tracking
from climbflow.tasks import execute_tracked, log_cached
from pathlib import Path
params = resolve_paths(load(Path("params.yaml")), Path("."))
parent = tracking.start_pipeline_run(params, "pr-kill")
ctx = {"parent_run_id": parent, "pipeline_run_id": "pr-kill"}
execute_tracked("evaluate", params, ctx, target="ptbxl", model=sys.argv[1], standardized=sys.argv[2])
log_cached(params, "pr-kill", parent)
tracking.finish_pipeline_run(params, parent, "FINISHED", {})
"""


@pytest.mark.integration  # ~60 s: a training chain, then two MLflow subprocesses
def test_kill_during_model_registration_then_rerun_registers_once(validated, tmp_path):
    import torch
    from mlflow.tracking import MlflowClient

    from climbflow.registry import tracking

    params, snap, val = validated
    std = standardize.run(params, "ptbxl", snap, val)
    pre = execute("pretrain", params, modality="ecg", standardized=[std.uri])
    fine = execute("finetune", params, target="ptbxl", pretrained=pre.uri, standardized=std.uri)
    script = tmp_path / "register.py"
    script.write_text(REGISTER)
    cmd = [sys.executable, str(script), fine.uri, std.uri]

    killed = subprocess.run(
        cmd, cwd=tmp_path, env=_env(**{KILL_ENV: "registry.register"}), capture_output=True, text=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    client = MlflowClient(tracking.tracking_uri(params))
    assert len(client.search_model_versions("name = 'climb-ptbxl'")) == 1  # version created, alias not set
    done = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]

    versions = client.search_model_versions("name = 'climb-ptbxl'")
    assert len(versions) == 1  # completed, not registered twice
    mv = client.get_model_version_by_alias("climb-ptbxl", "challenger")
    assert mv.version == versions[0].version and mv.tags["climb.pipeline_run_id"] == "pr-kill"
    assert mv.tags["climb.evaluation_uri"] and "climb.test_split_hash" in mv.tags
    exp = client.get_experiment_by_name(params.workspace.experiment).experiment_id
    runs = client.search_runs([exp], filter_string="tags.`climb.pipeline_run_id` = 'pr-kill'")
    stages = sorted(r.data.tags.get("climb.stage", "parent") for r in runs)
    assert stages == ["evaluate", "parent"]  # one parent, one evaluate run: no duplicates
    assert {r.info.status for r in runs} == {"FINISHED"} and mv.run_id in {r.info.run_id for r in runs}
    import mlflow

    mlflow.set_tracking_uri(tracking.tracking_uri(params))
    served = mlflow.pytorch.load_model(f"models:/climb-ptbxl/{mv.version}")
    local = torch.load(Path(fine.uri) / "model.pt", map_location="cpu", weights_only=False)["state_dict"]
    assert all(torch.equal(served.state_dict()[k], v) for k, v in local.items())


def test_disk_full_injected_is_a_clear_error_and_publishes_nothing(validated, monkeypatch):
    params, snap, val = validated
    from climbflow.stages import standardize as module

    real, calls = module.write_table, []

    def write_table(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "write_table", write_table)
    with pytest.raises(DiskFull, match="no space left on device while writing .*Free space") as err:
        standardize.run(params, "ptbxl", snap, val)
    parent = Path(params.workspace.root) / "standardized" / "ptbxl"
    assert "standardize[ptbxl]" in str(err.value) and "MiB free" in str(err.value)
    assert _visible(parent) == [] and _hidden(parent) == []  # nothing published, staging removed
    monkeypatch.undo()
    assert standardize.run(params, "ptbxl", snap, val).report["n_samples"] == 40  # and it recovers


def test_disk_full_on_a_real_2mib_tmpfs(validated, tmp_path):
    params, snap, val = validated
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 2 MiB tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        with pytest.raises(DiskFull, match="no space left on device") as err:
            standardize.run(params, "ptbxl", snap, val, out=str(small / "store"))
        assert str(small) in str(err.value)
        assert os.listdir(small) == []  # no partial output, no staging dir: the space is back
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_mlflow_unreachable_fails_fast_with_a_clear_message(tmp_path, params_factory):
    from climbflow.registry import tracking

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connection refused
    url = f"http://climb:s3cr3t@127.0.0.1:{port}"
    params = params_factory({}, **{"workspace.tracking_uri": url})
    start = time.monotonic()
    with pytest.raises(tracking.TrackingUnavailable) as err:
        tracking.start_pipeline_run(params, "pr-down")
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and "unreachable" in message and "s3cr3t" not in message


def test_retried_tracking_calls_do_not_duplicate_runs(tmp_path, params_factory):
    from climbflow.registry import tracking
    from climbflow.stages.base import StageResult

    params = params_factory({})
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    parent = tracking.start_pipeline_run(params, "pr-1")
    assert tracking.start_pipeline_run(params, "pr-1") == parent  # a retried driver finds its run
    assert tracking.start_pipeline_run(params, "pr-2") != parent
    result = StageResult("ingest", "ptbxl", str(out), {"n_files": 3}, False, 0.1)
    first = tracking.log_stage(params, result, parent, "pr-1")
    again = tracking.log_stage(params, result, parent, "pr-1")  # the task retried after a crash
    assert again == first and [r.info.run_id for r in tracking.child_runs(params, parent)] == [first]
    other = StageResult("ingest", "chexpert", str(out), {}, False, 0.1)
    assert tracking.log_stage(params, other, parent, "pr-1") != first
