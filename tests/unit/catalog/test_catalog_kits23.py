"""KiTS23 catalog entry: kits23.json layout, malignant label, hash split, NIfTI decoding (HU, orientation)."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.kits23 import KiTS23

SPACING = (5.0, 0.8, 0.7)  # mm, (slice, row, col)
CASES = [
    {"case_id": "case_00000", "gender": "male", "age_at_nephrectomy": 49, "malignant": True,
     "tumor_histologic_subtype": "clear_cell_rcc", "bmi": 29.47},
    {"case_id": "case_00001", "gender": "female", "age_at_nephrectomy": 61, "malignant": False,
     "tumor_histologic_subtype": "oncocytoma", "bmi": 24.1},
    {"case_id": "case_00002", "gender": "male", "age_at_nephrectomy": None, "malignant": True,
     "tumor_histologic_subtype": "papillary_rcc"},
]  # fmt: skip


def volume(seed: int = 0) -> np.ndarray:
    """(D, H, W) HU in display order, with an asymmetric marker so orientation errors show."""
    rng = np.random.default_rng(seed)
    hu = rng.normal(40, 10, (6, 10, 12)).round()
    hu[:, :, :2] = -1000.0  # air at the patient's right (image left) edge
    hu[0, 0, 5] = 900.0  # superior, anterior marker
    return hu


def kits_affine(spacing=SPACING) -> np.ndarray:
    """KiTS's storage orientation: axis 0 -> inferior, axis 1 -> posterior, axis 2 -> patient's left."""
    sz, sy, sx = spacing
    return np.array([[0, 0, -sx, 10], [0, -sy, 0, 20], [-sz, 0, 0, 30], [0, 0, 0, 1]], dtype=float)


def write_nifti(path: Path, hu: np.ndarray, affine: np.ndarray, scaled: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if scaled:  # int16 + scl_inter, as CT converters write it
        img = nib.Nifti1Image((hu + 1024).astype(np.int16), affine)
        img.header.set_slope_inter(1.0, -1024.0)
    else:  # float32, as KiTS23 ships it
        img = nib.Nifti1Image(hu.astype(np.float32), affine)
    nib.save(img, str(path))


def make_copy(root: Path, cases=CASES, meta_name: str = "kits23.json") -> Path:
    data = root / "dataset"
    data.mkdir(parents=True, exist_ok=True)
    for i, case in enumerate(cases):
        if isinstance(case, dict) and isinstance(case.get("case_id"), str):
            folder = data / case["case_id"]
            write_nifti(folder / "imaging.nii.gz", volume(i), kits_affine())
            seg = nib.Nifti1Image(np.zeros((6, 10, 12), np.uint8), kits_affine())
            nib.save(seg, str(folder / "segmentation.nii.gz"))
    (data / meta_name).write_text(json.dumps(cases, indent=4))
    return root


def _index(root: Path) -> tuple[list[RawRecord], list[Rejected]]:
    items = list(KiTS23().index(root))
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, Rejected)]


def test_registered_binary_malignancy():
    assert catalog.get("kits23") is KiTS23
    assert KiTS23.task == "binary" and KiTS23.classes == ("malignant",) and KiTS23.modality == "volume"
    assert not KiTS23.official_split


def test_index_labels_meta_and_no_official_split(tmp_path):
    records, rejected = _index(make_copy(tmp_path))
    assert not rejected
    assert [r.record_id for r in records] == ["case_00000", "case_00001", "case_00002"]
    assert [r.target for r in records] == [(1.0,), (0.0,), (1.0,)]
    assert all(r.split is None and r.patient_id == r.record_id for r in records)
    assert records[0].files == ("dataset/case_00000/imaging.nii.gz", "dataset/case_00000/segmentation.nii.gz")
    assert records[0].meta == {"age": 49.0, "sex": "M", "tumor_histologic_subtype": "clear_cell_rcc"}
    assert records[2].meta["age"] is None and records[1].meta["sex"] == "F"
    assert json.loads(records[1].source_labels) == {
        "malignant": False,
        "tumor_histologic_subtype": "oncocytoma",
    }


def test_root_may_be_the_dataset_folder_and_kits_json_is_accepted(tmp_path):
    make_copy(tmp_path, meta_name="kits.json")
    assert KiTS23().detect(tmp_path) and KiTS23().detect(tmp_path / "dataset")
    records = [r for r in KiTS23().index(tmp_path / "dataset") if isinstance(r, RawRecord)]
    assert records[0].files[0] == "case_00000/imaging.nii.gz"
    hu, _ = KiTS23().decode(tmp_path / "dataset", records[0])
    assert hu.shape == (6, 10, 12)


@pytest.mark.parametrize("value", [None, "true", 1, "yes"])
def test_bad_malignant_value_is_rejected(tmp_path, value):
    cases = [dict(c) for c in CASES]
    cases[1]["malignant"] = value
    if value is None:
        del cases[1]["malignant"]
    records, rejected = _index(make_copy(tmp_path, cases))
    assert len(records) == 2
    (rej,) = rejected
    assert rej.rule == "bad_label" and rej.record_id == "case_00001" and rej.source == "dataset/kits23.json"
    assert repr(value) in rej.message


def test_missing_image_bad_case_id_and_duplicates_are_rejected(tmp_path):
    cases = [*CASES, {"case_id": 17, "malignant": True}, dict(CASES[0])]
    root = make_copy(tmp_path, cases)
    (root / "dataset" / "case_00001" / "imaging.nii.gz").unlink()
    records, rejected = _index(root)
    assert [r.record_id for r in records] == ["case_00000", "case_00002"]
    assert sorted((r.rule, r.record_id) for r in rejected) == [
        ("bad_case_id", "entry3"),
        ("duplicate_record", "case_00000"),
        ("missing_file", "case_00001"),
    ]


def test_missing_or_bad_metadata_is_a_catalog_error(tmp_path):
    assert not KiTS23().detect(tmp_path)
    with pytest.raises(CatalogError, match="kits23.json"):
        list(KiTS23().index(tmp_path))
    root = make_copy(tmp_path)
    (root / "dataset" / "kits23.json").write_text('{"case_id": "case_00000"}')
    with pytest.raises(CatalogError, match="list of cases"):
        list(KiTS23().index(root))
    (root / "dataset" / "kits23.json").write_text("[{")
    with pytest.raises(CatalogError, match="not valid JSON"):
        list(KiTS23().index(root))


@pytest.mark.parametrize("scaled", [True, False])
def test_decode_hu_through_nifti_scaling_and_spacing(tmp_path, scaled):
    root = make_copy(tmp_path)
    records, _ = _index(root)
    write_nifti(root / records[0].files[0], volume(0), kits_affine(), scaled=scaled)
    hu, props = KiTS23().decode(root, records[0])
    assert hu.dtype == np.float32 and hu.shape == (6, 10, 12)
    np.testing.assert_array_equal(hu, volume(0))  # HU, not stored values, in display order
    assert props["sampling_rate"] is None
    np.testing.assert_allclose(props["spacing"], SPACING, rtol=1e-6)
    assert props["meta"] == {"spacing_mm": list(SPACING), "orig_shape": [6, 10, 12], "orig_axes": "IPL"}


def test_decode_canonicalises_orientation(tmp_path):
    """The same anatomy stored in RAS order (x, y, z) with a RAS affine decodes to the same array."""
    root = make_copy(tmp_path)
    records, _ = _index(root)
    hu = volume(0)
    ras = hu[::-1, ::-1, ::-1].transpose(2, 1, 0)  # (x: R, y: A, z: S)
    sz, sy, sx = SPACING
    write_nifti(root / records[0].files[0], ras, np.diag([sx, sy, sz, 1.0]))
    out, props = KiTS23().decode(root, records[0])
    np.testing.assert_array_equal(out, hu)
    assert out[0, 0, 5] == 900.0 and (out[:, :, :2] == -1000).all()
    np.testing.assert_allclose(props["spacing"], SPACING, rtol=1e-6)
    assert props["meta"]["orig_axes"] == "RAS"


def test_decode_bad_files(tmp_path):
    root = make_copy(tmp_path)
    records, _ = _index(root)
    spec, rec = KiTS23(), records[0]
    path = root / rec.files[0]
    full = path.read_bytes()

    path.write_bytes(b"")
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "empty_file" and "imaging.nii.gz" in err.value.message

    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "corrupt_nifti" and str(path) in err.value.message

    path.write_bytes(b"not a nifti at all" * 30)
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "corrupt_nifti"

    write_nifti(path, np.zeros((4, 5)), np.eye(4))  # 2D image
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "corrupt_nifti" and "3D" in err.value.message

    bad = volume(0).astype(np.float32)
    bad[1, 2, 3] = np.nan
    write_nifti(path, bad, kits_affine(), scaled=False)
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "nonfinite"

    path.unlink()
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "missing_file"


def test_decode_refuses_huge_volumes(tmp_path):
    root = make_copy(tmp_path)
    records, _ = _index(root)

    class Tiny(KiTS23):
        max_voxels = 100

    with pytest.raises(RecordError) as err:
        Tiny().decode(root, records[0])
    assert err.value.rule == "volume_too_large" and "(6, 10, 12)" in err.value.message
