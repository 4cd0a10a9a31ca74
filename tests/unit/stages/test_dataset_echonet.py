"""EchoNet sample copy through ingest -> validate -> standardize: clip shape, EF labels, official split, meta."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

VIDEO = {"frames": 8, "size": 32, "channels": 1}


@pytest.fixture
def echonet_store(standardized_sample, tmp_path):
    reader = standardized_sample("echonet", 16, **{"standardize.video": VIDEO})
    with (tmp_path / "raw" / "echonet" / "FileList.csv").open(newline="") as fh:
        rows = {r["FileName"]: r for r in csv.DictReader(fh)}
    return reader, rows


def test_clips_labels_and_official_split(echonet_store):
    reader, rows = echonet_store
    m = reader.manifest
    assert len(reader) == len(rows) == 16 and reader.quarantine.empty
    assert reader.labels["task"] == "binary" and reader.labels["classes"] == ["EF below 50"]
    assert reader.labels["sample_shape"] == [8, 1, 32, 32] and reader.labels["official_split"]
    clip = reader.sample(0)
    assert clip.shape == (8, 1, 32, 32) and clip.dtype == np.uint8
    assert all(frame.any() for frame in clip)  # no blank frames: short clips would be looped, not padded
    split_of = {"TRAIN": "train", "VAL": "val", "TEST": "test"}
    for _, row in m.iterrows():
        name = row["sample_id"].split("/", 1)[1]
        source = rows[name]
        assert row["split"] == split_of[source["Split"]]  # FileList's split, never re-hashed
        assert list(row["target"]) == [1.0 if float(source["EF"]) < 50 else 0.0]
        assert row["patient_id"] == name and row["source_uri"] == f"Videos/{name}.avi"
        meta = json.loads(row["meta"])
        assert meta["fps"] == 30.0 and meta["n_frames"] == int(source["NumberOfFrames"])
        assert meta["orig_size"] == [112, 112] and meta["ef"] == float(source["EF"])
        assert meta["es_frame"] != meta["ed_frame"]
    assert set(m["split"]) == {"train", "val", "test"}
    targets = reader.targets()
    assert 0 < targets.mean() < 1  # both classes
    for split in ("train", "val", "test"):
        assert len(reader.split_indices(split)) == int((m["split"] == split).sum())


def test_ef_regression_entry(standardized_sample):
    reader = standardized_sample("echonet_ef", 12, **{"standardize.video": VIDEO})
    assert reader.labels["task"] == "regression" and reader.labels["classes"] == ["EF"]
    values = reader.targets()[:, 0]
    assert values.min() >= 20 and values.max() <= 75 and (values > 1).all()  # EF in %, not a fraction
