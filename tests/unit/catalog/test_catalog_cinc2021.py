"""CinC 2020/2021 ECG sets (Chapman, Georgia, CPSC-2018): real .hea/.mat layout, SNOMED -> CLIMB superclasses
kept multi-label, record-level patients, named rejections, bad files -> RecordError."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from pydantic import ValidationError

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.cinc2021 import CPSC2018, SNOMED, Chapman, CinCOptions, Georgia
from climbflow.catalog.ptbxl import CLASSES

LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
# CinC 2021 dx_mapping_scored.csv: code -> the class the brief / PTB-XL superclasses give it
SCORED = {
    "164889003": "AFIB",  # atrial fibrillation
    "164890007": "AFIB",  # atrial flutter
    "6374002": "CD",  # bundle branch block
    "426627000": "OTHER",  # bradycardia
    "733534002": "CD",  # complete LBBB
    "713427006": "CD",  # complete RBBB
    "270492004": "CD",  # 1st degree AV block
    "713426002": "CD",  # incomplete RBBB
    "39732003": "OTHER",  # left axis deviation
    "445118002": "CD",  # left anterior fascicular block
    "164909002": "CD",  # LBBB
    "251146004": "OTHER",  # low QRS voltages
    "698252002": "CD",  # nonspecific intraventricular conduction disorder
    "426783006": "NORM",  # sinus rhythm
    "284470004": "OTHER",  # premature atrial contraction
    "10370003": "OTHER",  # pacing rhythm
    "365413008": "OTHER",  # poor R wave progression
    "427172004": "OTHER",  # premature ventricular contractions
    "164947007": "CD",  # prolonged PR interval
    "111975006": "STTC",  # prolonged QT interval (PTB-XL LNGQT is STTC)
    "164917005": "MI",  # Q wave abnormal
    "47665007": "OTHER",  # right axis deviation
    "59118001": "CD",  # RBBB
    "427393009": "OTHER",  # sinus arrhythmia
    "426177001": "OTHER",  # sinus bradycardia
    "427084000": "OTHER",  # sinus tachycardia
    "63593006": "OTHER",  # supraventricular premature beats
    "164934002": "STTC",  # T wave abnormal
    "59931005": "STTC",  # T wave inversion
    "17338001": "OTHER",  # ventricular premature beats
}


def _signal(n: int, k: int) -> np.ndarray:
    """(12, n) int16 test signal (adc units, 1000/mV): a different sine per lead and record."""
    t = np.arange(n) / 500.0
    return np.stack([np.round(100 * (c + 1) * np.sin(2 * np.pi * (1 + k) * t)) for c in range(12)]).astype(
        np.int16
    )


def write_record(
    directory: Path,
    name: str,
    dx: str | None,
    n: int = 5000,
    age: str = "53",
    sex: str = "Male",
    val: np.ndarray | None = None,
    leads: list[str] = LEADS,
    fs: str = "500",
) -> np.ndarray:
    """One record exactly as the challenge stores it: MATLAB v4 ``val`` + WFDB header with #-comments."""
    directory.mkdir(parents=True, exist_ok=True)
    val = _signal(n, len(name) + int(name[-2:])) if val is None else val
    scipy.io.savemat(directory / f"{name}.mat", {"val": val}, format="4")
    checksums = (val.astype(np.int64).sum(axis=1) + 32768) % 65536 - 32768
    lines = [f"{name} 12 {fs} {val.shape[1]} 05-Feb-2020 11:39:16"]
    lines += [
        f"{name}.mat 16+24 1000/mV 16 0 {val[c, 0]} {checksums[c]} 0 {lead}" for c, lead in enumerate(leads)
    ]
    lines += [f"#Age: {age}", f"#Sex: {sex}"]
    lines += [f"#Dx: {dx}"] if dx is not None else []
    lines += ["#Rx: Unknown", "#Hx: Unknown", "#Sx: Unknown"]
    (directory / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return val


# record -> (#Dx, expected classes)
CHAPMAN_ROWS = {
    "JS00001": ("426783006", {"NORM"}),
    "JS00002": ("164889003,59118001,164934002", {"AFIB", "CD", "STTC"}),
    "JS00003": ("426177001,55827005", {"OTHER", "HYP"}),
    "JS00004": ("164917005,426783006", {"MI"}),  # NORM only when nothing abnormal is present
    "JS00005": ("164890007", {"AFIB"}),
    "JS00006": ("111975006,427084000", {"STTC", "OTHER"}),
    "JS00007": ("270492004,445118002,164873001", {"CD", "HYP"}),
}


@pytest.fixture
def chapman(tmp_path: Path) -> Path:
    for name, (dx, _) in CHAPMAN_ROWS.items():
        write_record(tmp_path / "WFDB_ChapmanShaoxing", name, dx)
    return tmp_path


def _index(spec, root: Path) -> tuple[dict[str, RawRecord], dict[str, Rejected]]:
    items = list(spec.index(root))
    records = {r.record_id: r for r in items if isinstance(r, RawRecord)}
    rejected = {r.record_id: r for r in items if isinstance(r, Rejected)}
    assert len(records) + len(rejected) == len(items)
    return records, rejected


def _classes(target: tuple[float, ...]) -> set[str]:
    return {c for c, v in zip(CLASSES, target, strict=True) if v == 1.0}


def test_registry_and_contract() -> None:
    assert catalog.get("chapman") is Chapman and catalog.get("georgia") is Georgia
    assert catalog.get("cpsc2018") is CPSC2018
    for spec in (Chapman, Georgia, CPSC2018):
        assert spec.classes == CLASSES and spec.task == "multilabel" and spec.modality == "ecg"
        assert not spec.official_split and spec.folder in spec.layout
    with pytest.raises(ValidationError):
        CinCOptions(sinus_rhythm="sometimes")
    with pytest.raises(ValidationError):
        CinCOptions(bogus=1)


def test_snomed_table_covers_the_scored_codes() -> None:
    assert {code: SNOMED[code][1] for code in SCORED} == SCORED
    assert {klass for _, klass in SNOMED.values()} == set(CLASSES)
    # the brief's examples among the unscored codes
    for code, klass in [
        ("164865005", "MI"),
        ("429622005", "STTC"),
        ("164931005", "STTC"),
        ("89792004", "HYP"),
    ]:
        assert SNOMED[code][1] == klass


def test_index_multilabel_targets_and_meta(chapman: Path) -> None:
    records, rejected = _index(Chapman(), chapman)
    assert not rejected and list(records) == list(CHAPMAN_ROWS)
    for name, (dx, expected) in CHAPMAN_ROWS.items():
        rec = records[name]
        assert _classes(rec.target) == expected, name
        assert rec.source_labels == dx and rec.patient_id == name and rec.split is None
        assert rec.files == (f"WFDB_ChapmanShaoxing/{name}.hea", f"WFDB_ChapmanShaoxing/{name}.mat")
    meta = records["JS00002"].meta
    assert meta["age"] == 53.0 and meta["sex"] == "M" and meta["sampling_rate"] == 500.0
    assert meta["duration_s"] == 10.0 and meta["dx"] == ["AF", "RBBB", "TAb"]


def test_sinus_rhythm_norm_reproduces_climb(chapman: Path) -> None:
    records, _ = _index(Chapman(CinCOptions(sinus_rhythm="norm")), chapman)
    assert _classes(records["JS00001"].target) == {"NORM"}
    assert _classes(records["JS00004"].target) == {"MI", "NORM"}


@pytest.mark.parametrize(
    ("age", "sex", "expected"),
    [
        ("NaN", "Unknown", (None, None)),
        ("95", "Female", (90.0, "F")),
        ("-1", "F", (None, "F")),
        ("", "", (None, None)),
    ],
)
def test_demographics(tmp_path: Path, age: str, sex: str, expected: tuple) -> None:
    write_record(tmp_path, "E00001", "426783006", age=age, sex=sex)
    (rec,) = Georgia().index(tmp_path)
    assert (rec.meta["age"], rec.meta["sex"]) == expected


@pytest.mark.parametrize(
    ("dx", "rule"),
    [
        ("426783006,999999999", "unknown_snomed_code"),
        ("", "missing_dx"),
        (None, "missing_dx"),
        ("AF", "bad_dx"),
    ],
)
def test_bad_dx_rejected(chapman: Path, dx: str | None, rule: str) -> None:
    write_record(chapman / "WFDB_ChapmanShaoxing", "JS00009", dx)
    records, rejected = _index(Chapman(), chapman)
    assert len(records) == len(CHAPMAN_ROWS)
    assert (
        rejected["JS00009"].rule == rule and rejected["JS00009"].source == "WFDB_ChapmanShaoxing/JS00009.hea"
    )
    assert "JS00009.hea" in rejected["JS00009"].message


def test_file_level_rejections(chapman: Path) -> None:
    folder = chapman / "WFDB_ChapmanShaoxing"
    (folder / "JS00002.mat").unlink()
    (folder / "JS00003.hea").unlink()
    (folder / "JS00004.hea").write_text("")
    (folder / "JS00005.hea").write_text("garbage\n")
    text = (folder / "JS00006.hea").read_text()
    (folder / "JS00006.hea").write_text(text.replace("JS00006 12", "JS00066 12", 1))
    write_record(folder, "Q0001", "426783006")  # CPSC-Extra record in the wrong set
    write_record(chapman / "g2", "JS00001", "426783006")  # the same record twice
    records, rejected = _index(Chapman(), chapman)
    assert set(records) == {"JS00001", "JS00007"}
    rules = {k: (r.rule, r.source) for k, r in rejected.items()}
    assert rules == {
        "JS00002": ("missing_file", "WFDB_ChapmanShaoxing/JS00002.mat"),
        "JS00003": ("missing_file", "WFDB_ChapmanShaoxing/JS00003.hea"),
        "JS00004": ("empty_file", "WFDB_ChapmanShaoxing/JS00004.hea"),
        "JS00005": ("corrupt_header", "WFDB_ChapmanShaoxing/JS00005.hea"),
        "JS00006": ("record_name_mismatch", "WFDB_ChapmanShaoxing/JS00006.hea"),
        "Q0001": ("foreign_record", "WFDB_ChapmanShaoxing/Q0001.hea"),
    } | {"JS00001": rules["JS00001"]}
    # the duplicate is whichever copy sorts second
    assert rejected["JS00001"].rule == "duplicate_record"
    assert records["JS00001"].files[0] != rejected["JS00001"].source


def test_nested_and_flat_roots_and_detect(tmp_path: Path) -> None:
    write_record(tmp_path / "cpsc_2018" / "g1", "A0001", "426783006", n=7500)
    write_record(tmp_path / "cpsc_2018" / "g2", "A1001", "164889003,59118001", n=30000)
    records, rejected = _index(CPSC2018(), tmp_path)
    assert not rejected and set(records) == {"A0001", "A1001"}
    assert (
        records["A1001"].files[0] == "cpsc_2018/g2/A1001.hea" and records["A1001"].meta["duration_s"] == 60.0
    )
    assert CPSC2018().detect(tmp_path) and CPSC2018().detect(tmp_path / "cpsc_2018")
    flat, _ = _index(CPSC2018(), tmp_path / "cpsc_2018" / "g1")
    assert set(flat) == {"A0001"}
    assert not Chapman().detect(tmp_path) and not Georgia().detect(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CatalogError, match="no .hea/.mat"):
        list(Chapman().index(tmp_path / "empty"))
    with pytest.raises(CatalogError, match="not a directory"):
        list(Chapman().index(tmp_path / "missing"))


def test_decode(tmp_path: Path) -> None:
    val = write_record(tmp_path / "WFDB_CPSC2018", "A0002", "164909002", n=7500)
    (rec,) = CPSC2018().index(tmp_path)
    signal, props = CPSC2018().decode(tmp_path, rec)
    assert signal.dtype == np.float32 and signal.shape == (7500, 12)
    np.testing.assert_allclose(signal, val.T / 1000.0, atol=1e-6)
    assert props["sampling_rate"] == 500.0 and props["lead_names"] == LEADS
    assert props["meta"] == {
        "n_samples": 7500,
        "duration_s": 15.0,
        "flat_leads": [],
        "source_unit": "mV",
        "unit_assumed": False,
    }


def _decode_error(root: Path, spec=None) -> RecordError:
    spec = spec or Georgia()
    (rec,) = spec.index(root)
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    return err.value


@pytest.fixture
def georgia(tmp_path: Path) -> Path:
    write_record(tmp_path / "WFDB_Ga", "E00007", "164934002,426783006")
    return tmp_path


def test_truncated_mat(georgia: Path) -> None:
    mat = georgia / "WFDB_Ga/E00007.mat"
    mat.write_bytes(mat.read_bytes()[:5000])
    err = _decode_error(georgia)
    assert err.rule == "corrupt_mat" and "WFDB_Ga/E00007.mat" in err.message and "5000 bytes" in err.message


def test_mat_v5_or_wrong_type(georgia: Path) -> None:
    mat = georgia / "WFDB_Ga/E00007.mat"
    val = scipy.io.loadmat(mat)["val"]
    scipy.io.savemat(mat, {"val": val})  # MATLAB v5: wfdb would read its header as samples
    assert _decode_error(georgia).rule == "corrupt_mat"
    scipy.io.savemat(mat, {"val": val.astype(np.float64)}, format="4")
    assert _decode_error(georgia).rule == "corrupt_mat"
    scipy.io.savemat(mat, {"val": val[:, :4000]}, format="4")
    err = _decode_error(georgia)
    assert err.rule == "corrupt_mat" and "12x4000" in err.message


def test_empty_and_missing_mat(georgia: Path) -> None:
    (rec,) = Georgia().index(georgia)
    (georgia / "WFDB_Ga/E00007.mat").write_bytes(b"")
    with pytest.raises(RecordError) as err:
        Georgia().decode(georgia, rec)
    assert err.value.rule == "empty_file"
    (georgia / "WFDB_Ga/E00007.mat").unlink()
    with pytest.raises(RecordError) as err:
        Georgia().decode(georgia, rec)
    assert err.value.rule == "missing_file" and "E00007.mat" in err.value.message


def test_header_corrupted_after_indexing(georgia: Path) -> None:
    (rec,) = Georgia().index(georgia)
    (georgia / "WFDB_Ga/E00007.hea").write_text("E00007 12 500\n")
    with pytest.raises(RecordError) as err:
        Georgia().decode(georgia, rec)
    assert err.value.rule == "corrupt_wfdb" and "E00007.hea" in err.value.message


def test_invalid_samples_are_nonfinite(tmp_path: Path) -> None:
    val = _signal(5000, 3)
    val[4, 100:110] = -32768  # WFDB's invalid-sample value for format 16
    write_record(tmp_path, "E00008", "426783006", val=val)
    err = _decode_error(tmp_path)
    assert err.rule == "nonfinite" and "10 invalid" in err.message


def test_flat_leads(tmp_path: Path) -> None:
    val = _signal(5000, 3)
    val[[2, 5]] = 7  # two disconnected leads
    write_record(tmp_path, "E00009", "426783006", val=val)
    (rec,) = Georgia().index(tmp_path)
    _, props = Georgia().decode(tmp_path, rec)
    assert props["meta"]["flat_leads"] == ["III", "aVF"]
    err = _decode_error(tmp_path, Georgia(CinCOptions(max_flat_leads=1)))
    assert err.rule == "flat_signal" and "III" in err.message
    write_record(tmp_path, "E00009", "426783006", val=np.zeros((12, 5000), dtype=np.int16))
    assert _decode_error(tmp_path).rule == "flat_signal"


def test_missing_leads_and_bad_rate(tmp_path: Path) -> None:
    write_record(tmp_path, "E00010", "426783006", leads=[*LEADS[:11], "V7"])
    err = _decode_error(tmp_path)
    assert err.rule == "missing_leads" and "V6" in err.message
    shutil.rmtree(tmp_path)
    write_record(tmp_path, "E00010", "426783006", fs="0")
    assert _decode_error(tmp_path).rule == "bad_sampling_rate"
