"""KiTS23 sample copy through ingest -> validate -> standardize: windowed volumes, malignancy, case-level split."""

from __future__ import annotations

import json

import numpy as np

VOLUME = {"depth": 8, "size": 32, "window_level": 40.0, "window_width": 400.0}


def test_volumes_labels_split_and_meta(standardized_sample, tmp_path):
    reader = standardized_sample("kits23", 16, **{"standardize.volume": VOLUME})
    cases = {
        c["case_id"]: c
        for c in json.loads((tmp_path / "raw" / "kits23" / "dataset" / "kits23.json").read_text())
    }
    m = reader.manifest
    assert len(reader) == len(cases) == 16 and reader.quarantine.empty
    assert reader.labels["task"] == "binary" and reader.labels["classes"] == ["malignant"]
    assert reader.labels["sample_shape"] == [1, 8, 32, 32] and not reader.labels["official_split"]
    vol = reader.sample(0)
    assert vol.shape == (1, 8, 32, 32) and vol.dtype == np.uint8
    assert vol.min() == 0 and vol.max() == 255  # air below the window, bone above it
    mid = vol[0, 4].astype(int)
    assert 0 < np.median(mid) < 255  # soft tissue inside the window
    for _, row in m.iterrows():
        case_id = row["sample_id"].split("/", 1)[1]
        assert list(row["target"]) == [1.0 if cases[case_id]["malignant"] else 0.0]
        assert row["patient_id"] == case_id and row["source_uri"] == f"dataset/{case_id}/imaging.nii.gz"
        assert row["sex"] == {"male": "M", "female": "F"}[cases[case_id]["gender"]]
        assert row["age"] == cases[case_id]["age_at_nephrectomy"]
        meta = json.loads(row["meta"])
        assert meta["orig_shape"] == [32, 64, 64] and meta["orig_axes"] == "IPL"
        assert meta["spacing_mm"][0] in (3.0, 4.0, 5.0) and 2.5 < meta["spacing_mm"][1] < 3.5
        assert meta["tumor_histologic_subtype"] == cases[case_id]["tumor_histologic_subtype"]
    # no official split: hash split by case, so each case (patient) is in one split and train dominates
    assert m.groupby("patient_id")["split"].nunique().max() == 1
    assert set(m["split"]) <= {"train", "val", "test"} and (m["split"] == "train").mean() >= 0.5
    assert 0 < reader.targets().mean() < 1
