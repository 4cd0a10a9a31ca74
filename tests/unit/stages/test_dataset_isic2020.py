"""ISIC 2020 sample -> ingest -> validate -> standardize: binary, patient-level hash split, RGB (3, 64, 64)."""

from __future__ import annotations

import json

import numpy as np

N = 50


def test_isic2020_standardized(standardized_sample):
    reader = standardized_sample("isic2020", N)
    m = reader.manifest
    assert len(m) == N and reader.quarantine.empty
    assert reader.labels["task"] == "binary" and reader.labels["classes"] == ["Malignant"]
    targets = reader.targets()
    truth = [json.loads(s)["benign_malignant"] == "malignant" for s in m["source_labels"]]
    assert (targets[:, 0] == np.asarray(truth, dtype=float)).all() and 0 < targets.sum() < N
    assert m["patient_id"].nunique() < N and m.groupby("patient_id")["split"].nunique().max() == 1
    x = reader.sample(0)
    assert x.shape == (3, 64, 64) and x.dtype == np.uint8
