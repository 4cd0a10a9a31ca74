"""HAM10000 sample -> ingest -> validate -> standardize: 5 CLIMB classes, lesion-level split, RGB (3, 64, 64)."""

from __future__ import annotations

import json

import numpy as np

from climbflow.catalog.ham10000 import CLASSES, DX_TO_CLASS

N = 50


def test_ham10000_standardized(standardized_sample):
    reader = standardized_sample("ham10000", N)
    m = reader.manifest
    assert len(m) == N and reader.quarantine.empty
    assert reader.labels["task"] == "multiclass" and reader.labels["classes"] == list(CLASSES)
    targets = reader.targets()
    dx = [json.loads(s)["dx"] for s in m["source_labels"]]
    assert [CLASSES[i] for i in targets.argmax(axis=1)] == [DX_TO_CLASS[d] for d in dx]
    assert m["patient_id"].str.startswith("HAM_").all() and m["patient_id"].nunique() < N
    assert m.groupby("patient_id")["split"].nunique().max() == 1  # images of one lesion share a split
    assert set(m["split"]) == {"train", "val", "test"}
    x = reader.sample(0)
    assert x.shape == (3, 64, 64) and x.dtype == np.uint8
    assert m["sex"].isin(["M", "F"]).any() and m["age"].notna().any()
