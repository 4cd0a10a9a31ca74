"""A failed decode keeps its offending values (the decoder's message) in validation.json and the summary."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from climbflow.validate.suites import validate_dataset


def test_decode_failure_message_with_channel_names_is_kept(tmp_path):
    n = 12
    records = pd.DataFrame(
        {
            "record_id": [f"r{i:03d}" for i in range(n)],
            "patient_id": [f"p{i}" for i in range(n)],
            "split": ["train"] * 8 + ["val"] * 2 + ["test"] * 2,
            "n_files": [1] * n,
            "target_len": [2] * n,
            "target_min": [0.0] * n,
            "target_max": [1.0] * n,
            "target_nan_fraction": [0.0] * n,
            "n_positive": [1] * n,
        }
    )
    message = "r000.hea: lead(s) ['V7', 'XYZ'] are not 12-lead ECG channels"
    samples = pd.DataFrame(
        {
            "record_id": ["r000", "r001"],
            "ok": [False, True],
            "rule": ["unknown_leads", None],
            "ndim": [0, 2],
            "dim0": [0, 12],
            "dim1": [0, 5000],
            "sampling_rate": [np.nan, 500.0],
            "finite": [False, True],
            "min": [np.nan, -1.0],
            "max": [np.nan, 1.0],
            "message": [message, None],
        }
    )
    result = validate_dataset(
        records, samples, dataset="toy_ecg", n_classes=2, allowed_splits=["train", "val", "test"],
        expected_sample={"ndim": 2}, out_dir=tmp_path, max_quarantine_fraction=0.2, n_rejected=0, min_records=1,
    )  # fmt: skip
    assert not result.passed
    checks = json.loads((tmp_path / "validation.json").read_text())["checks"]
    decoded = next(c for c in checks if c["rule"] == "sample_decoded")
    [example] = decoded["unexpected_examples"]
    assert (example["record_id"], example["rule"], example["message"]) == ("r000", "unknown_leads", message)
    assert "'V7', 'XYZ'" in result.summary_md  # before: only the rule name, the channels were in the log
