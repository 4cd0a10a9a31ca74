"""Chapman, Georgia and CPSC-2018 sample copies through ingest -> validate -> standardize: 12 x 5000 samples
at 500 Hz (CPSC's 6-31 s records cropped or zero-padded to 10 s), the 7 CLIMB superclasses kept
multi-label, record-level patients hash-split into train/val/test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io

from climbflow.catalog.cinc2021 import SNOMED
from climbflow.catalog.ptbxl import CLASSES

N = 50


def _check_store(reader, dataset: str) -> None:
    manifest = reader.manifest
    assert len(reader) == N and reader.labels["classes"] == list(CLASSES)
    assert reader.labels["task"] == "multilabel"
    assert (manifest["sample_id"] == dataset + "/" + manifest["patient_id"]).all()  # patient = record
    assert set(manifest["split"]) == {"train", "val", "test"}
    assert sorted(np.concatenate([reader.split_indices(s) for s in ("train", "val", "test")])) == list(
        range(N)
    )
    assert (manifest["orig_sampling_rate"] == 500.0).all() and (manifest["sampling_rate"] == 500.0).all()
    for i in (0, N - 1):
        assert reader.sample(i).shape == (12, 5000) and np.isfinite(reader.sample(i)).all()
    for row in manifest.itertuples():  # the target is the #Dx codes' superclasses, NORM only when alone
        classes = {SNOMED[code][1] for code in row.source_labels.split(",")}
        classes = classes - {"NORM"} if len(classes) > 1 else classes
        assert {c for c, v in zip(CLASSES, row.target, strict=True) if v == 1.0} == classes
        assert set(json.loads(row.meta)["dx"]) == {SNOMED[code][0] for code in row.source_labels.split(",")}


@pytest.mark.parametrize("dataset", ["chapman", "georgia"])
def test_ten_second_sets(standardized_sample, dataset: str) -> None:
    reader = standardized_sample(dataset, N)
    _check_store(reader, dataset)
    targets = reader.targets()
    assert (targets.sum(axis=1) > 1).any(), "several findings must stay multi-label"
    assert (reader.manifest["age"].dropna().between(18, 90)).all()
    assert set(reader.manifest["sex"]) <= {"M", "F"}


def test_cpsc2018_crops_and_pads_to_ten_seconds(standardized_sample, tmp_path) -> None:
    reader = standardized_sample("cpsc2018", N)
    _check_store(reader, "cpsc2018")
    meta = [json.loads(m) for m in reader.manifest["meta"]]
    durations = np.array([m["duration_s"] for m in meta])
    assert (durations < 10).any() and (durations > 10).any()
    raw_dir = tmp_path / "raw" / "cpsc2018" / "WFDB_CPSC2018"
    for i in (int(np.argmin(durations)), int(np.argmax(durations))):
        name = reader.manifest["patient_id"].iloc[i]
        raw = scipy.io.loadmat(raw_dir / f"{name}.mat")["val"] / 1000.0
        stored = reader.sample(i).astype(np.float64)
        n = min(raw.shape[1], 5000)
        np.testing.assert_allclose(stored[:, :n], raw[:, :n], atol=2e-3)  # float16 storage
        assert meta[i]["n_samples"] == raw.shape[1]
        if raw.shape[1] < 5000:
            assert not stored[:, n:].any()  # zero-padded at the end
