"""`workspace.push_raw: false` keeps raw snapshots (which may hold PHI) out of the DVC remote."""

from __future__ import annotations

from pathlib import Path

from climbflow.stages import ingest


def test_push_raw_false_keeps_the_snapshot_local(sample_root, params_factory):
    params = params_factory({"ptbxl": str(sample_root / "ptbxl")}, **{"workspace.push_raw": False})
    snap = ingest.run(params, "ptbxl")
    assert (Path(snap.uri) / "files.parquet").exists()
    assert "data_version" not in snap.extra
    assert not Path(snap.uri).with_name(Path(snap.uri).name + ".dvc").exists()
    remote = Path(params.workspace.root) / "dvc-remote"
    assert not remote.exists() or not any(p.is_file() for p in remote.rglob("*"))
