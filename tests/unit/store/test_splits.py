"""Patient-level hash splits: a function of the source patient identity and the seed only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from climbflow import sampledata
from climbflow.catalog.dicom import SALT_ENV, SALT_FILE_ENV
from climbflow.config import load
from climbflow.pipeline_runner import resolve_paths
from climbflow.stages import ingest, standardize, validate
from climbflow.store.format import StoreReader
from climbflow.store.splits import patient_split, split_key
from tests.conftest import make_params


def _standardized(tmp: Path, src: Path, **overrides) -> pd.DataFrame:
    """ingest -> validate -> standardize of ``src`` in a fresh workspace under ``tmp``; the manifest."""
    tmp.mkdir(parents=True)
    params = resolve_paths(load(make_params(tmp, {"vindr_cxr": str(src)}, **overrides)), tmp)
    snap = ingest.run(params, "vindr_cxr")
    val = validate.run(params, "vindr_cxr", snap.uri)
    return StoreReader(standardize.run(params, "vindr_cxr", snap.uri, val.uri).uri).manifest


def test_dicom_splits_are_the_same_in_every_workspace(tmp_path, monkeypatch):
    monkeypatch.delenv(SALT_ENV, raising=False)  # each workspace creates its own random salt
    monkeypatch.delenv(SALT_FILE_ENV, raising=False)
    src = sampledata.write("vindr_cxr", tmp_path / "raw" / "vindr_cxr", 40, seed=0)
    a = _standardized(tmp_path / "a", src)
    b = _standardized(tmp_path / "b", src)
    salts = {(tmp_path / ws / "workspace/.deid_salt").read_text() for ws in ("a", "b")}
    assert len(salts) == 2
    assert set(a["patient_id"]).isdisjoint(b["patient_id"])  # pseudonyms differ: the salts do
    assert list(a["sample_id"]) == list(b["sample_id"])
    assert list(a["split"]) == list(b["split"])
    assert {"train", "val"} <= set(a["split"])  # the hash split is exercised, not only the official test


def test_split_key_hides_the_identity_and_the_seed_matters():
    key = split_key("PatientID:MRN1001")
    assert "MRN1001" not in key and key == split_key("PatientID:MRN1001") != split_key("PatientID:MRN1002")
    keys = [split_key(f"PatientID:MRN{i}") for i in range(200)]
    by_seed = [[patient_split(k, seed, 0.2, 0.1) for k in keys] for seed in (0, 1)]
    assert by_seed[0] != by_seed[1]
    assert 0.1 < by_seed[0].count("val") / 200 < 0.3 and 0.03 < by_seed[0].count("test") / 200 < 0.18
