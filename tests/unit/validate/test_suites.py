"""validate_dataset runs real Great Expectations suites; each broken rule fails with a message naming it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climbflow.validate.suites import ValidationResult, validate_dataset

N_CLASSES = 5
SPLITS = ["train", "val", "test"]


def good_records(n: int = 12) -> pd.DataFrame:
    """n records over n // 2 patients; official splits by patient, the last patient left to hash-split."""
    patients = [f"p{i // 2}" for i in range(n)]
    split_of = {p: SPLITS[k % 3] for k, p in enumerate(sorted(set(patients)))}
    split_of[patients[-1]] = None
    return pd.DataFrame(
        {
            "record_id": [f"r{i:03d}" for i in range(n)],
            "patient_id": patients,
            "split": [split_of[p] for p in patients],
            "n_files": [2] * n,
            "target_len": [N_CLASSES] * n,
            "target_min": [0.0] * n,
            "target_max": [1.0] * (n - 1) + [np.nan],
            "target_nan_fraction": [0.0] * (n - 1) + [1.0],
            "n_positive": [1] * (n - 1) + [0],
        }
    )


def good_samples(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": [f"r{i:03d}" for i in range(n)],
            "ok": [True] * n,
            "rule": [None] * n,
            "ndim": [2] * n,
            "dim0": [5000] * n,
            "dim1": [12] * n,
            "sampling_rate": [500.0] * n,
            "finite": [True] * n,
            "min": [-1.5] * n,
            "max": [2.0] * n,
        }
    )


def run(
    out_dir: Path,
    records: pd.DataFrame | None = None,
    samples: pd.DataFrame | None = None,
    *,
    n_rejected: int = 1,
    min_records: int = 10,
    expected_sample: dict | None = None,
    **extra,
) -> ValidationResult:
    return validate_dataset(
        good_records() if records is None else records,
        good_samples() if samples is None else samples,
        dataset="toy_ecg",
        n_classes=N_CLASSES,
        allowed_splits=SPLITS,
        expected_sample={"ndim": 2, "min_sampling_rate": 100} if expected_sample is None else expected_sample,
        out_dir=out_dir,
        max_quarantine_fraction=0.2,
        n_rejected=n_rejected,
        min_records=min_records,
        **extra,
    )


def only_failure(result: ValidationResult, rule: str) -> str:
    assert not result.passed
    assert "FAILED" in result.summary_md
    matching = [f for f in result.failures if f.startswith(f"{rule}:")]
    assert matching, result.failures
    assert all(f.split(":")[0] == rule for f in result.failures), result.failures
    return matching[0]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> ValidationResult:
    return run(tmp_path_factory.mktemp("good"))


def test_good_dataset_passes(good: ValidationResult) -> None:
    assert good.passed, good.failures
    assert good.failures == []
    assert good.summary_md.startswith("# Validation of `toy_ecg`: PASSED")
    report = json.loads(good.results_path.read_text())
    assert report["verdict"] == "PASSED"
    assert {c["rule"] for c in report["checks"]} >= {
        "record_id_unique",
        "target_range",
        "split_allowed",
        "min_records",
        "sample_finite",
        "sample_sampling_rate",
        "patient_leakage",
        "quarantine_fraction",
    }
    assert (good.results_path.parent / "summary.md").read_text() == good.summary_md


def test_data_docs_index_names_the_suites(good: ValidationResult) -> None:
    assert good.docs_index is not None and good.docs_index.is_file()
    assert good.docs_index == good.results_path.parent / "data_docs" / "index.html"
    html = good.docs_index.read_text()
    assert "climbflow.toy_ecg.records" in html
    assert "climbflow.toy_ecg.samples" in html


def test_validation_json_is_deterministic(good: ValidationResult, tmp_path: Path) -> None:
    again = run(tmp_path)
    assert again.results_path.read_bytes() == good.results_path.read_bytes()
    text = again.results_path.read_text()
    for volatile in ("run_time", "validation_time", "run_id", "batch_id", "ge_load_time", '"id"'):
        assert volatile not in text


def test_duplicate_record_id(tmp_path: Path) -> None:
    records = good_records()
    records.loc[3, "record_id"] = "r002"
    msg = only_failure(run(tmp_path, records), "record_id_unique")
    assert "records.record_id" in msg and "r002" in msg


def test_target_out_of_range(tmp_path: Path) -> None:
    records = good_records()
    records.loc[4, "target_max"] = 2.0
    result = run(tmp_path, records)
    msg = only_failure(result, "target_range")
    assert "target_max" in msg and "r004" in msg and "2.0" in msg
    assert "target_range" in result.summary_md


def test_patient_leaks_across_train_and_test(tmp_path: Path) -> None:
    records = good_records()
    assert records.loc[0, "split"] == "train" and records.loc[1, "patient_id"] == "p0"
    records.loc[1, "split"] = "test"
    msg = only_failure(run(tmp_path, records), "patient_leakage")
    assert "p0" in msg and "test" in msg and "train" in msg


def test_quarantine_fraction_too_high(tmp_path: Path) -> None:
    msg = only_failure(run(tmp_path, n_rejected=6), "quarantine_fraction")  # 6 / 18 > 0.2
    assert "6 of 18" in msg


def test_non_finite_decoded_sample(tmp_path: Path) -> None:
    samples = good_samples()
    samples.loc[2, ["finite", "min"]] = [False, np.nan]
    msg = only_failure(run(tmp_path, samples=samples), "sample_finite")
    assert "samples.finite" in msg and "r002" in msg


def test_too_few_records(tmp_path: Path) -> None:
    msg = only_failure(run(tmp_path, min_records=50), "min_records")
    assert "observed 12" in msg
    report = json.loads((tmp_path / "validation.json").read_text())
    assert report["verdict"] == "FAILED" and report["failures"] == [msg]


def test_failed_decode_is_reported_once_with_its_rule(tmp_path: Path) -> None:
    """A sample that did not decode fails sample_decoded only; property checks skip it."""
    samples = good_samples().astype({"rule": object, "finite": object, "ndim": float})
    broken = [False, "corrupt_wfdb", np.nan, np.nan, None]
    samples.loc[1, ["ok", "rule", "ndim", "sampling_rate", "finite"]] = broken
    msg = only_failure(run(tmp_path, samples=samples), "sample_decoded")
    assert "r001" in msg and "corrupt_wfdb" in msg


def test_image_dims_and_unknown_split(tmp_path: Path) -> None:
    records = good_records()
    records.loc[[0, 1], "split"] = "holdout"  # both records of patient p0: no leakage
    samples = good_samples().assign(sampling_rate=np.nan, dim0=[64, 64, 16, 64], dim1=64)
    result = run(tmp_path, records, samples, expected_sample={"ndim": 2, "min_dim": 32})
    assert not result.passed
    rules = sorted(f.split(":")[0] for f in result.failures)
    # p0 was the train patient: moving it to "holdout" also leaves too small a train split
    assert rules == ["sample_min_dim", "split_allowed", "split_train_fraction"], result.failures
    assert any("samples.dim0" in f and "r002" in f for f in result.failures)
    assert any("holdout" in f for f in result.failures)


def test_missing_column_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="target_len"):
        run(tmp_path, good_records().drop(columns="target_len"))


def _labels(prevalences: list[float], n: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "class": [f"c{k}" for k in range(len(prevalences))],
            "n_known": [n] * len(prevalences),
            "n_positive": [round(p * n) for p in prevalences],
            "prevalence": prevalences,
        }
    )


def test_label_prevalence_bounds(tmp_path: Path) -> None:
    assert run(tmp_path / "ok", labels=_labels([0.5, 0.25, 0.0])).passed
    result = run(tmp_path / "bad", labels=_labels([1.0, 0.25, 0.0]))
    assert [f.split(":")[0] for f in result.failures] == ["label_prevalence"]
    assert "c0" in result.failures[0]
    none = run(tmp_path / "none", labels=_labels([0.0, 0.0, 0.0]))
    assert [f.split(":")[0] for f in none.failures] == ["label_any_positive"]


def test_identical_content_in_two_splits_is_refused(tmp_path: Path) -> None:
    records = good_records().assign(content_sha256=[f"h{i}" for i in range(12)])
    assert run(tmp_path / "ok", records).passed
    records.loc[4, "content_sha256"] = (
        "h0"  # r004 (test patient p2) is a byte copy of r000 (train patient p0)
    )
    result = run(tmp_path / "dup", records)
    assert [f.split(":")[0] for f in result.failures] == ["duplicate_content_across_splits"]
    assert "r000/r004" in result.failures[0] and "test/train" in result.failures[0]


def test_regression_targets_are_not_bounded_to_0_1_but_must_be_known(tmp_path: Path) -> None:
    records = good_records().assign(target_len=1, target_min=55.0, target_max=55.0, target_nan_fraction=0.0)
    records["n_positive"] = 0
    result = validate_dataset(
        records,
        good_samples(),
        dataset="toy_echo",
        n_classes=1,
        allowed_splits=SPLITS,
        expected_sample={},
        out_dir=tmp_path / "reg",
        max_quarantine_fraction=0.2,
        n_rejected=0,
        min_records=10,
        task="regression",
    )
    assert result.passed, result.failures
    records.loc[3, "target_nan_fraction"] = 1.0
    bad = validate_dataset(
        records,
        good_samples(),
        dataset="toy_echo",
        n_classes=1,
        allowed_splits=SPLITS,
        expected_sample={},
        out_dir=tmp_path / "reg_bad",
        max_quarantine_fraction=0.2,
        n_rejected=0,
        min_records=10,
        task="regression",
    )
    assert [f.split(":")[0] for f in bad.failures] == ["target_known"]
