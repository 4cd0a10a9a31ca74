"""APTOS sample -> ingest -> validate -> standardize: 5 grades one-hot, RGB (3, 64, 64), hash split by image."""

from __future__ import annotations

import json

import numpy as np

from climbflow.catalog.aptos import CLASSES

N = 50


def test_aptos_standardized(standardized_sample):
    reader = standardized_sample("aptos", N)
    m = reader.manifest
    assert len(m) == N and reader.quarantine.empty
    assert reader.labels["task"] == "multiclass" and reader.labels["classes"] == list(CLASSES)
    targets = reader.targets()
    assert (targets.sum(axis=1) == 1).all()
    grades = [json.loads(s)["diagnosis"] for s in m["source_labels"]]
    assert (targets.argmax(axis=1) == np.asarray(grades)).all()
    assert (m["patient_id"] == m["sample_id"].str.removeprefix("aptos/")).all()
    assert set(m["split"]) == {"train", "val", "test"}
    x = reader.sample(0)
    assert x.shape == (3, 64, 64) and x.dtype == np.uint8
    assert x[0].mean() > x[2].mean()  # a fundus is red, not grey
    sizes = {tuple(json.loads(s)["orig_size"]) for s in m["meta"]}
    assert (128, 128) in sizes and (120, 160) in sizes
