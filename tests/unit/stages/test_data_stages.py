"""ingest -> validate -> standardize on the sample copies, including bad input (quarantined or failed closed)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from climbflow.stages import StageFailed, ingest, standardize, validate
from climbflow.store.format import StoreReader


def _copy(sample_root: Path, name: str, tmp_path: Path) -> Path:
    dest = tmp_path / "raw" / name
    shutil.copytree(sample_root / name, dest)
    return dest


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _chain(params, dataset):
    snap = ingest.run(params, dataset)
    val = validate.run(params, dataset, snap.uri)
    return snap, val, standardize.run(params, dataset, snap.uri, val.uri)


def test_ingest_snapshot_id_is_stable_and_content_addressed(sample_root, tmp_path, params_factory):
    src = _copy(sample_root, "ptbxl", tmp_path)
    params = params_factory({"ptbxl": str(src)})
    first = ingest.run(params, "ptbxl")
    again = ingest.run(params, "ptbxl")
    assert again.cache_hit and again.uri == first.uri
    assert first.report["n_files"] == len(list(p for p in src.rglob("*") if p.is_file()))
    assert first.extra["data_version"]["md5"].endswith(".dir")
    files = pd.read_parquet(Path(first.uri) / "files.parquet")
    assert set(files.columns) == {"path", "size", "sha256"}
    (src / "ptbxl_database.csv").write_text((src / "ptbxl_database.csv").read_text() + "\n")
    changed = ingest.run(params, "ptbxl")
    assert not changed.cache_hit and changed.report["snapshot_id"] != first.report["snapshot_id"]


def test_standardize_writes_the_store_with_official_split(sample_root, tmp_path, params_factory):
    params = params_factory({"ptbxl": str(sample_root / "ptbxl")})
    _, val, std = _chain(params, "ptbxl")
    assert val.report["passed"]
    store = StoreReader(Path(std.uri))
    assert store.labels["classes"] == ["NORM", "CD", "HYP", "MI", "STTC", "AFIB", "OTHER"]
    assert store.labels["task"] == "multilabel"
    assert len(store) == 120 and std.report["n_shards"] == 1
    assert store.sample(0).shape == (12, 5000)
    targets = store.targets()
    assert (targets.sum(axis=1) > 1).any(), "multi-label records must stay multi-label"
    # patient-level: no patient in two splits
    assert store.manifest.groupby("patient_id")["split"].nunique().max() == 1
    assert std.extra["data_version"]["md5"].endswith(".dir")
    assert Path(std.uri).with_name(Path(std.uri).name + ".dvc").exists()


def test_standardize_is_deterministic(sample_root, tmp_path, params_factory):
    params = params_factory({"chexpert": str(sample_root / "chexpert")})
    snap, val, std = _chain(params, "chexpert")
    other = standardize.run(params, "chexpert", snap.uri, val.uri, out=str(tmp_path / "again"))
    assert _tree_digest(Path(std.uri)) == _tree_digest(Path(other.uri))
    store = StoreReader(Path(std.uri))
    assert set(store.manifest["split"]) == {"train", "val", "test"}
    assert store.sample(0).dtype.name == "uint8"


def test_bad_records_are_quarantined_with_file_and_rule(sample_root, tmp_path, params_factory):
    ecg = _copy(sample_root, "ptbxl", tmp_path)
    db = pd.read_csv(ecg / "ptbxl_database.csv")
    # a truncated .dat (corrupt WFDB) and an unknown SCP code
    victim = db.iloc[3]
    dat = ecg / (victim["filename_hr"] + ".dat")
    dat.write_bytes(dat.read_bytes()[:100])
    db.loc[5, "scp_codes"] = "{'NOTACODE': 100.0}"
    db.to_csv(ecg / "ptbxl_database.csv", index=False)
    cxr = _copy(sample_root, "chexpert", tmp_path)
    jpg = next((cxr / "CheXpert-v1.0-small" / "train").rglob("*.jpg"))
    jpg.write_bytes(b"")
    params = params_factory({"ptbxl": str(ecg), "chexpert": str(cxr)})

    _, _, std = _chain(params, "ptbxl")
    q = StoreReader(Path(std.uri)).quarantine
    rules = dict(zip(q["record_id"], q["rule"], strict=False))
    assert rules[str(victim["ecg_id"])] == "corrupt_wfdb"
    assert rules[str(db.iloc[5]["ecg_id"])] == "unknown_scp_code"
    corrupt = q[q["rule"] == "corrupt_wfdb"].iloc[0]
    assert victim["filename_hr"].split("/")[-1] in corrupt["message"]
    assert "NOTACODE" in q[q["rule"] == "unknown_scp_code"].iloc[0]["message"]
    assert std.report["n_samples"] + std.report["n_quarantined"] == 120

    _, _, std = _chain(params, "chexpert")
    q = StoreReader(Path(std.uri)).quarantine
    row = q[q["rule"] == "empty_file"]
    assert len(row) == 1 and jpg.name in row.iloc[0]["message"]


def test_missing_column_fails_validation_closed(sample_root, tmp_path, params_factory):
    ecg = _copy(sample_root, "ptbxl", tmp_path)
    db = pd.read_csv(ecg / "ptbxl_database.csv").drop(columns=["strat_fold"])
    db.to_csv(ecg / "ptbxl_database.csv", index=False)
    params = params_factory({"ptbxl": str(ecg)})
    snap = ingest.run(params, "ptbxl")
    with pytest.raises(StageFailed, match="strat_fold"):
        validate.run(params, "ptbxl", snap.uri)
    out = next((Path(params.workspace.root) / "validation" / "ptbxl").iterdir())
    assert "FAILED" in (out / "summary.md").read_text()
    with pytest.raises(StageFailed, match="validation failed"):
        standardize.run(params, "ptbxl", snap.uri, str(out))


def test_parallel_ranges_give_a_byte_identical_store(sample_root, tmp_path, params_factory):
    """Shard ranges standardized by 1 or 2 processes: same shards, manifest and DVC version."""
    src = _copy(sample_root, "ptbxl", tmp_path)
    digests, versions = [], []
    for workers in (1, 2):
        params = params_factory(
            {"ptbxl": str(src)},
            **{
                "standardize.shard_size": 35,
                "standardize.workers": workers,
                "workspace.root": str(tmp_path / f"ws{workers}"),
            },
        )
        _, _, store = _chain(params, "ptbxl")
        assert store.report["n_shards"] == 4  # 120 records in ranges of 35
        digests.append(_tree_digest(Path(store.uri)))
        versions.append(store.extra["data_version"]["md5"])
    assert digests[0] == digests[1]
    assert versions[0] == versions[1]
    reader = StoreReader(Path(store.uri))
    assert sorted(p.name for p in (Path(store.uri) / "shards").iterdir()) == [
        f"shard-{k:05d}.npy" for k in range(4)
    ]
    assert not (Path(store.uri) / "parts").exists()
    assert reader.sample(len(reader) - 1).shape == (12, 5000)
