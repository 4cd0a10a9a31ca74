"""standardize fails closed when too many records are quarantined, and reports single-class splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from climbflow import catalog
from climbflow.stages import StageFailed, ingest, standardize, standardize_ranges, validate
from climbflow.stages.standardize import single_class_splits
from climbflow.store.splits import unit_hash


def _corrupt_a_quarter(sample_root, tmp_path, params_factory):
    """A PTB-XL copy with 30 of 120 records corrupt (25% > max 20%), none in validate's decoded sample."""
    src = tmp_path / "raw" / "ptbxl"
    shutil.copytree(sample_root / "ptbxl", src)
    params = params_factory(
        {"ptbxl": str(src)}, **{"validate.sample_records": 8, "standardize.shard_size": 50}
    )
    db = pd.read_csv(src / "ptbxl_database.csv")
    # corrupt 30 of 120 records (25% > max 20%) that validate's decoded sample does not pick
    ids = sorted(db["ecg_id"].astype(str), key=lambda r: unit_hash(params.seed, r))
    victims = set(ids[8:38])
    for _, row in db[db["ecg_id"].astype(str).isin(victims)].iterrows():
        dat = src / (row["filename_hr"] + ".dat")
        dat.write_bytes(dat.read_bytes()[:100])
    snap = ingest.run(params, "ptbxl")
    val = validate.run(params, "ptbxl", snap.uri)
    assert val.report["passed"], "validate's sample saw no bad record"
    return params, snap, val


def test_quarantine_over_the_limit_fails_and_is_not_versioned(sample_root, tmp_path, params_factory):
    params, snap, val = _corrupt_a_quarter(sample_root, tmp_path, params_factory)
    with pytest.raises(StageFailed, match=r"quarantine_fraction 25\.0% > max 20\.0%.*corrupt_wfdb \(30\)"):
        standardize.run(params, "ptbxl", snap.uri, val.uri)  # before: exit 0 and a pushed store
    out = next((Path(params.workspace.root) / "standardized" / "ptbxl").iterdir())
    assert not out.with_name(out.name + ".dvc").exists(), "a failed store is not versioned/pushed"
    with pytest.raises(StageFailed, match="quarantine_fraction"):  # a re-run (cache hit) fails alike
        standardize.run(params, "ptbxl", snap.uri, val.uri)


def test_fanned_out_merge_fails_closed_too(sample_root, tmp_path, params_factory):
    params, snap, val = _corrupt_a_quarter(sample_root, tmp_path, params_factory)
    items = standardize_ranges.plan(params, "ptbxl", snap.uri, val.uri)
    parts = [standardize_ranges.run_range(params, item) for item in items]
    with pytest.raises(StageFailed, match="quarantine_fraction 25.0%"):
        standardize_ranges.merge(params, "ptbxl", snap.uri, val.uri, parts)


def test_single_class_splits_are_named():
    spec = catalog.get("ptbxl")  # multilabel, classes NORM, CD, ...
    norm, cd = [1.0] + [0.0] * 6, [0.0, 1.0] + [0.0] * 5
    manifest = [
        {"split": "train", "target": norm},
        {"split": "train", "target": norm},
        {"split": "val", "target": norm},
        {"split": "val", "target": cd},
        {"split": "test", "target": [0.0] * 7},
    ]
    assert single_class_splits(manifest, spec) == {"test": [], "train": ["NORM"]}
