"""ABIDE (PCP, CC200) catalog entry on a tiny fixture: phenotype csv + .npy connectivity / .1D time series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from climbflow.catalog import get
from climbflow.catalog.abide import ABIDE, PHENOTYPE
from climbflow.catalog.base import RawRecord, RecordError, Rejected

N = 6


def _series(seed: int, t: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(t, N)) + rng.normal(size=(t, 1))


def write_fixture(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "rois_cc200").mkdir()
    rows = [  # SUB_ID, FILE_ID, DX_GROUP, SITE, AGE, SEX
        (50002, "Pitt_0050002", 1, "PITT", 16.77, 1),
        (50003, "Pitt_0050003", 2, "PITT", 24.45, 2),
        (50004, "no_filename", 1, "PITT", 19.0, 1),
        (50005, "NYU_0050005", 3, "NYU", 12.0, 1),
        (50006, "NYU_0050006", 2, "NYU", 9.5, 1),
        (50002, "Pitt_0050002", 1, "PITT", 16.77, 1),
        (50007, "NYU_0050007", 1, "NYU", 11.0, 2),
    ]
    table = pd.DataFrame(rows, columns=["SUB_ID", "FILE_ID", "DX_GROUP", "SITE_ID", "AGE_AT_SCAN", "SEX"])
    table.insert(0, "Unnamed: 0", range(1, len(rows) + 1))
    table.to_csv(root / PHENOTYPE, index=False)
    np.save(root / "Pitt_0050002_cc200_correlation.npy", np.corrcoef(_series(1), rowvar=False))
    header = "\t".join(f"#{k + 1}" for k in range(N))
    np.savetxt(
        root / "rois_cc200" / "Pitt_0050003_rois_cc200.1D",
        _series(2),
        fmt="%.4f",
        delimiter="\t",
        header=header,
        comments="",
    )
    np.savetxt(root / "rois_cc200" / "NYU_0050005_rois_cc200.1D", _series(3), fmt="%.4f")
    # 50006 has both: the .npy wins
    np.save(root / "NYU_0050006_cc200_correlation.npy", np.eye(N))
    np.savetxt(root / "rois_cc200" / "NYU_0050006_rois_cc200.1D", _series(4), fmt="%.4f")
    return root


@pytest.fixture
def root(tmp_path) -> Path:
    return write_fixture(tmp_path / "abide")


def _index(root):
    items = list(ABIDE().index(root))
    return (
        {r.record_id: r for r in items if isinstance(r, RawRecord)},
        {r.record_id: r for r in items if isinstance(r, Rejected)},
    )


def test_index_labels_and_rejections(root):
    assert get("abide") is ABIDE and ABIDE.task == "binary" and ABIDE.classes == ("autism",)
    assert ABIDE().detect(root) and not ABIDE().detect(root / "rois_cc200")
    records, rejected = _index(root)
    assert set(records) == {"50002", "50003", "50006"}
    assert {k: r.rule for k, r in rejected.items()} == {
        "50004": "no_filename",
        "50005": "unknown_label",
        "50002": "duplicate_record",
        "50007": "missing_file",
    }
    assert "DX_GROUP '3'" in rejected["50005"].message
    assert records["50002"].target == (1.0,) and records["50003"].target == (0.0,)
    assert records["50002"].patient_id == "50002" and records["50002"].split is None
    assert records["50003"].meta == {"age": 24.45, "sex": "F", "site": "PITT", "file_id": "Pitt_0050003"}
    assert records["50003"].files == ("rois_cc200/Pitt_0050003_rois_cc200.1D",)
    assert records["50006"].files == ("NYU_0050006_cc200_correlation.npy",)


def test_decode_npy_and_time_series(root):
    records, _ = _index(root)
    spec = ABIDE()
    m, props = spec.decode(root, records["50002"])
    assert m.shape == (N, N) and m.dtype == np.float32 and props["meta"]["source"] == "correlation"
    ts, props = spec.decode(root, records["50003"])
    np.testing.assert_allclose(ts, np.corrcoef(np.round(_series(2), 4), rowvar=False), atol=1e-5)
    assert props["meta"] == {"source": "rois_cc200", "nodes": N, "timepoints": 60}


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"", "empty_file"),
        (b"not an npy file at all", "corrupt_npy"),
        ("nan", "nonfinite"),
        ("vector", "bad_shape"),
    ],
)
def test_bad_npy_files(root, content, rule):
    records, _ = _index(root)
    path = root / records["50002"].files[0]
    if content == "nan":
        m = np.load(path)
        m[1, 2] = np.nan
        np.save(path, m)
    elif content == "vector":
        np.save(path, np.zeros(N))
    else:
        path.write_bytes(content)
    with pytest.raises(RecordError) as err:
        ABIDE().decode(root, records["50002"])
    assert err.value.rule == rule and "Pitt_0050002" in err.value.message


def test_bad_time_series(root):
    records, _ = _index(root)
    path = root / records["50003"].files[0]
    flat = _series(2)
    flat[:, 4] = 1.0
    np.savetxt(path, flat, fmt="%.4f")
    with pytest.raises(RecordError) as err:
        ABIDE().decode(root, records["50003"])
    assert err.value.rule == "flat_signal" and "[4]" in err.value.message
    np.savetxt(path, _series(2, t=5), fmt="%.4f")
    with pytest.raises(RecordError, match="too_short"):
        ABIDE().decode(root, records["50003"])
    path.write_text("1 2 x\n")
    with pytest.raises(RecordError, match="corrupt_rois"):
        ABIDE().decode(root, records["50003"])


def test_missing_column_is_a_catalog_error(root):
    from climbflow.catalog.base import CatalogError

    table = pd.read_csv(root / PHENOTYPE).drop(columns=["DX_GROUP"])
    table.to_csv(root / PHENOTYPE, index=False)
    with pytest.raises(CatalogError, match="DX_GROUP"):
        list(ABIDE().index(root))
