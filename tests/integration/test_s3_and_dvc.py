"""Stages against a real S3 server (SeaweedFS on loopback): s3:// raw sources and outputs, DVC push/pull."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from climbflow.stages import ingest, standardize, validate
from climbflow.stages.base import read_report
from climbflow.store.uri import is_complete

pytestmark = pytest.mark.integration


def _upload(s3, local: Path, bucket: str, prefix: str) -> str:
    client = s3.client()
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")
    return f"s3://{bucket}/{prefix}"


def test_ingest_from_s3_prefix_matches_local_snapshot(sample_root, s3_env, params_factory):
    bucket = s3_env.make_bucket("raw-ptbxl")
    uri = _upload(s3_env, sample_root / "ptbxl", bucket, "ptbxl/1.0.3")
    params = params_factory({"ptbxl": uri})
    from_s3 = ingest.run(params, "ptbxl")
    from_local = ingest.run(params, "ptbxl", source=str(sample_root / "ptbxl"))
    assert from_s3.report["snapshot_id"] == from_local.report["snapshot_id"]
    assert from_s3.report["source_uri"] == uri


def test_stage_output_to_s3_is_published_with_marker_last(sample_root, s3_env, params_factory):
    bucket = s3_env.make_bucket("stage-out")
    params = params_factory({"ptbxl": str(sample_root / "ptbxl")})
    out = f"s3://{bucket}/raw/ptbxl/snap"
    result = ingest.run(params, "ptbxl", out=out)
    assert is_complete(out) and read_report(out)["snapshot_id"] == result.report["snapshot_id"]
    keys = {o["Key"] for o in s3_env.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert "raw/ptbxl/snap/files.parquet" in keys and "raw/ptbxl/snap/report.json" in keys
    # downstream stages read the S3 snapshot
    val = validate.run(params, "ptbxl", out)
    assert val.report["passed"] and val.report["n_records"] == 120
    assert ingest.run(params, "ptbxl", out=out).cache_hit


def test_dvc_push_to_s3_and_pull_back(sample_root, s3_env, params_factory, tmp_path):
    bucket = s3_env.make_bucket("dvc-remote")
    params = params_factory(
        {"chexpert": str(sample_root / "chexpert")},
        **{"workspace.dvc_remote": f"s3://{bucket}/store", "workspace.dvc_remote_endpoint": s3_env.endpoint},
    )
    snap = ingest.run(params, "chexpert")
    val = validate.run(params, "chexpert", snap.uri)
    std = standardize.run(params, "chexpert", snap.uri, val.uri)
    md5 = std.extra["data_version"]["md5"]
    assert std.extra["data_version"]["remote"] == f"s3://{bucket}/store"
    keys = {o["Key"] for o in s3_env.client().list_objects_v2(Bucket=bucket, MaxKeys=1000)["Contents"]}
    assert f"store/files/md5/{md5[:2]}/{md5[2:]}" in keys

    # a fresh checkout of the workspace (no cache, no data) gets the exact version back with `dvc pull`
    ws = Path(params.workspace.root)
    store = Path(std.uri)
    shutil.rmtree(store)
    shutil.rmtree(ws / ".dvc" / "cache")
    dvc_file = store.with_name(store.name + ".dvc")
    subprocess.run(
        [sys.executable, "-m", "dvc", "pull", str(dvc_file)],
        cwd=ws,
        check=True,
        capture_output=True,
        text=True,
    )
    assert (store / "manifest.parquet").exists()
    out = subprocess.run(
        [sys.executable, "-m", "dvc", "status", str(dvc_file)],
        cwd=ws,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "changed" not in out and "deleted" not in out
