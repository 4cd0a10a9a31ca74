"""TUAB and TUEV end to end: sample copy -> ingest -> validate -> standardize (windows of 19 x 2000 µV)."""

from __future__ import annotations

import json

import numpy as np

from climbflow.catalog.tuev import CLASSES as TUEV_CLASSES


def test_tuab_standardized(standardized_sample):
    reader = standardized_sample("tuab", 10)
    m = reader.manifest
    assert reader.quarantine.empty
    assert reader.labels["task"] == "binary" and reader.labels["classes"] == ["abnormal"]
    assert reader.labels["sample_shape"] == [19, 2000] and reader.labels["dtype"] == "float16"
    stems = m["sample_id"].str.removeprefix("tuab/").str.split("#").str[0]
    assert stems.nunique() == 10 and len(m) >= 20  # 20-40 s recordings: 2-4 windows of 10 s each
    targets = reader.targets()
    for i, row in enumerate(m.itertuples()):
        meta = json.loads(row.meta)
        k = int(row.sample_id.split("#")[1])
        assert (
            meta["window_start_s"] == 10.0 * k
            and meta["montage"] == "01_tcp_ar"
            and meta["reference"] == "REF"
        )
        assert targets[i, 0] == (1.0 if "/abnormal/" in row.source_uri else 0.0)
        assert row.patient_id == row.sample_id.removeprefix("tuab/").split("_")[0]
        assert (row.split == "test") == row.source_uri.startswith("edf/eval/")
        assert row.sampling_rate == 200.0 and row.orig_sampling_rate == 250.0
    assert set(m["split"]) <= {"train", "val", "test"} and (m["split"] == "test").any()
    for split in ("train", "val", "test"):  # patient-disjoint splits
        others = set(m.loc[m["split"] != split, "patient_id"])
        assert not set(m.loc[m["split"] == split, "patient_id"]) & others
    x = reader.sample(0)
    assert x.shape == (19, 2000) and x.dtype == np.float16 and np.isfinite(x).all()
    assert 2.0 < float(np.std(x.astype(np.float32))) < 200.0  # µV scale, band-passed (no DC)
    assert abs(float(x.astype(np.float32).mean())) < 5.0


def test_tuev_standardized(standardized_sample):
    reader = standardized_sample("tuev", 8)
    m = reader.manifest
    assert reader.quarantine.empty
    assert reader.labels["task"] == "multiclass" and reader.labels["classes"] == list(TUEV_CLASSES)
    targets = reader.targets()
    assert len(m) >= 10 and (targets.sum(axis=1) == 1).all()
    for i, row in enumerate(m.itertuples()):
        meta = json.loads(row.meta)
        assert TUEV_CLASSES[int(np.argmax(targets[i]))] == meta["event"]
        assert int(row.source_labels) == TUEV_CLASSES.index(meta["event"]) + 1
        assert (
            meta["window_start_s"] <= meta["event_start_s"]
            and meta["event_end_s"] <= meta["window_start_s"] + 10
        )
        assert row.source_uri.split("/")[2] == row.patient_id
        assert (row.split == "test") == row.source_uri.startswith("edf/eval/")
    x = reader.sample(len(reader) - 1)
    assert x.shape == (19, 2000) and x.dtype == np.float16 and np.isfinite(x).all()
