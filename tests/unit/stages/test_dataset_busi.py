"""BUSI sample -> ingest -> validate -> standardize: masks are not samples, RGB (3, 64, 64), one-hot, hash split."""

from __future__ import annotations

import json

import numpy as np

from climbflow.catalog.busi import CLASSES

N = 50


def test_busi_standardized(standardized_sample):
    reader = standardized_sample("busi", N)
    m = reader.manifest
    assert len(m) == N and reader.quarantine.empty  # one sample per image, none per mask
    assert reader.labels["task"] == "multiclass" and reader.labels["classes"] == list(CLASSES)
    assert not m["sample_id"].str.contains("_mask").any()
    targets = reader.targets()
    assert (targets.sum(axis=1) == 1).all() and (targets.sum(axis=0) > 0).all()
    folder = m["source_uri"].str.split("/").str[1]
    assert (np.asarray(CLASSES)[targets.argmax(axis=1)] == folder.str.capitalize()).all()
    assert set(m["split"]) <= {"train", "val", "test"} and len(reader.split_indices("train")) > N // 2
    x = reader.sample(0)
    assert x.shape == (3, 64, 64) and x.dtype == np.uint8
    h, w = json.loads(m["meta"].iloc[0])["orig_size"]
    assert w > h and (x[:, 0, :] == 0).all() and (x[:, 32, :] > 0).any()  # landscape: padded top and bottom
