"""TUAB catalog entry: folder labels, official split, windows from the EDF header, named rejections, decode."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from pydantic import ValidationError
from pyedflib import highlevel

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.tuab import TUAB, TUABOptions
from climbflow.catalog.tuh_edf import electrode_name, window_starts

FS = 250
ELECTRODES = [
    "FP1",
    "FP2",
    "F3",
    "F4",
    "C3",
    "C4",
    "P3",
    "P4",
    "O1",
    "O2",
    "F7",
    "F8",
    "T3",
    "T4",
    "T5",
    "T6",
]
ELECTRODES += ["A1", "A2", "FZ", "CZ", "PZ"]


def signal_of(seconds: int, n_channels: int, fs: int = FS) -> np.ndarray:
    """Channel c carries a ramp in time plus 100 * c µV, so a read can be checked sample by sample."""
    t = np.arange(seconds * fs) / fs
    return np.stack([100.0 * c + 10.0 * np.sin(2 * np.pi * (c + 1) * t) + t for c in range(n_channels)])


def write_edf(
    path: Path, seconds: int, ref: str = "REF", unit: str = "uV", fs: int = FS, extra: bool = True
) -> None:
    labels = [f"EEG {e}-{ref}" for e in ELECTRODES] + (["PHOTIC-REF"] if extra else [])
    sig = signal_of(seconds, len(labels), fs)
    scale = 1000.0 if unit == "mV" else 1.0
    headers = highlevel.make_signal_headers(
        labels, dimension=unit, sample_frequency=fs, physical_min=-5000 / scale, physical_max=5000 / scale
    )
    sig = sig / scale
    header = {
        "patientname": path.stem.split("_")[0],
        "patientcode": path.stem.split("_")[0],
        "sex": "F",
        "birthdate": "01 Jan 1950",
        "patient_additional": "Age:61",
        "startdate": datetime(2011, 1, 1),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    highlevel.write_edf(str(path), sig, headers, header, file_type=pyedflib.FILETYPE_EDF)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "edf"
    write_edf(base / "train/normal/01_tcp_ar/aaaaaaaq_s004_t000.edf", 35)  # 3 windows
    write_edf(base / "train/abnormal/01_tcp_ar/aaaaaabc_s001_t002.edf", 12, ref="LE")  # 1 window
    write_edf(base / "eval/abnormal/01_tcp_ar/aaaaaxyz_s002_t001.edf", 20)  # 2 windows
    write_edf(base / "eval/normal/01_tcp_ar/aaaaawww_s001_t000.edf", 80)  # capped at max_windows
    return tmp_path


def _index(root: Path, **options) -> tuple[dict[str, RawRecord], list[Rejected]]:
    items = list(TUAB(TUABOptions(**options)).index(root))
    records = {i.record_id: i for i in items if isinstance(i, RawRecord)}
    return records, [i for i in items if isinstance(i, Rejected)]


def test_registry_and_detect(root: Path, tmp_path_factory) -> None:
    assert catalog.get("tuab") is TUAB
    assert TUAB().detect(root)
    assert not TUAB().detect(tmp_path_factory.mktemp("empty"))
    with pytest.raises(CatalogError, match="normal,abnormal"):
        list(TUAB().index(tmp_path_factory.mktemp("other")))


def test_labels_splits_windows(root: Path) -> None:
    records, rejected = _index(root, window_seconds=10.0, max_windows=6)
    assert rejected == []
    counts = {}
    for rid in records:
        stem = rid.split("#")[0]
        counts[stem] = counts.get(stem, 0) + 1
    assert counts == {
        "aaaaaaaq_s004_t000": 3,
        "aaaaaabc_s001_t002": 1,
        "aaaaaxyz_s002_t001": 2,
        "aaaaawww_s001_t000": 6,
    }
    r = records["aaaaaaaq_s004_t000#2"]
    assert r.patient_id == "aaaaaaaq"
    assert r.target == (0.0,) and r.source_labels == "normal"
    assert r.split is None  # train: standardize hash-splits it into train/val by patient
    assert r.files == ("edf/train/normal/01_tcp_ar/aaaaaaaq_s004_t000.edf",)
    assert r.meta["window_start_s"] == 20.0 and r.meta["window_seconds"] == 10.0
    assert r.meta["recording_seconds"] == 35.0
    assert (r.meta["montage"], r.meta["reference"], r.meta["session"], r.meta["token"]) == (
        "01_tcp_ar",
        "REF",
        "s004",
        "t000",
    )
    assert (r.meta["age"], r.meta["sex"], r.meta["sampling_rate"]) == (61.0, "F", 250.0)
    assert records["aaaaaabc_s001_t002#0"].target == (1.0,)
    assert records["aaaaaabc_s001_t002#0"].meta["reference"] == "LE"
    assert records["aaaaaxyz_s002_t001#1"].split == "test"
    assert records["aaaaawww_s001_t000#5"].split == "test"


def test_window_options(root: Path) -> None:
    records, _ = _index(root, window_seconds=5.0, max_windows=2)
    assert sum(rid.startswith("aaaaaaaq_s004_t000#") for rid in records) == 2
    assert records["aaaaaaaq_s004_t000#1"].meta["window_start_s"] == 5.0
    with pytest.raises(ValidationError):
        TUABOptions(windows=3)
    with pytest.raises(ValidationError):
        TUABOptions(max_windows=0)
    assert window_starts(35.0, 10.0, 2) == [0.0, 10.0]
    assert window_starts(9.99, 10.0) == []


def test_rejections(root: Path) -> None:
    base = root / "edf"
    write_edf(base / "train/unknown/01_tcp_ar/aaaaaaab_s001_t000.edf", 12)
    write_edf(base / "train/normal/01_tcp_ar/not-a-tuh-name.edf", 12)
    write_edf(
        base / "eval/normal/01_tcp_ar/aaaaaabc_s001_t002.edf", 12
    )  # same recording as in train/abnormal
    write_edf(base / "train/normal/01_tcp_ar/aaaaaaac_s001_t000.edf", 8)
    write_edf(base / "train/normal/aaaaaaad_s001_t000.edf", 12)
    (base / "train/normal/01_tcp_ar/aaaaaaae_s001_t000.edf").write_bytes(b"")
    (base / "train/normal/01_tcp_ar/aaaaaaaf_s001_t000.edf").write_bytes(b"0       not an edf header" * 20)
    records, rejected = _index(root)
    rules = {r.record_id: r.rule for r in rejected}
    assert rules == {
        "aaaaaaab_s001_t000": "unknown_label",
        "not-a-tuh-name": "bad_file_name",
        "aaaaaabc_s001_t002": "duplicate_record",
        "aaaaaaac_s001_t000": "too_short",
        "aaaaaaad_s001_t000": "unexpected_path",
        "aaaaaaae_s001_t000": "empty_file",
        "aaaaaaaf_s001_t000": "corrupt_edf",
    }
    dup = next(r for r in rejected if r.rule == "duplicate_record")
    assert "train/abnormal" in dup.message  # names the file it duplicates
    assert len(records) == 12  # the good recordings are unaffected


def test_decode_window(root: Path) -> None:
    records, _ = _index(root)
    spec = TUAB()
    raw, props = spec.decode(root, records["aaaaaaaq_s004_t000#1"])
    assert props["sampling_rate"] == 250.0
    assert props["channel_names"] == ELECTRODES  # PHOTIC-REF is not an EEG electrode
    assert props["window_seconds"] == 10.0
    assert props["window_offset"] == pytest.approx(2.5)  # filter margin before the window
    assert raw.shape == (len(ELECTRODES), int(15 * FS)) and raw.dtype == np.float32
    expected = signal_of(35, len(ELECTRODES) + 1)[:, int(7.5 * FS) : int(22.5 * FS)]
    np.testing.assert_allclose(raw, expected[: len(ELECTRODES)], atol=0.2)  # 16-bit quantization over +-5 mV
    assert props["meta"] == {
        "reference": "REF",
        "window_start_s": 10.0,
        "montage": "01_tcp_ar",
        "source_unit": "uV",
        "unit_assumed": False,
        "resampled_channels": "",
    }
    # first window: no margin before the recording start
    raw0, props0 = spec.decode(root, records["aaaaaaaq_s004_t000#0"])
    assert props0["window_offset"] == 0.0 and raw0.shape[1] == int(12.5 * FS)


def test_decode_units_and_references(tmp_path: Path) -> None:
    write_edf(
        tmp_path / "edf/train/normal/01_tcp_ar/aaaaaaaq_s001_t000.edf", 12, ref="LE", unit="mV", extra=False
    )
    records, _ = _index(tmp_path)
    raw, props = TUAB().decode(tmp_path, records["aaaaaaaq_s001_t000#0"])
    assert props["meta"]["reference"] == "LE"
    np.testing.assert_allclose(raw[3, :10], signal_of(12, 21)[3, :10], atol=0.5)  # mV -> µV
    assert electrode_name("EEG T7-REF") == ("T3", "REF")
    assert electrode_name(" eeg fp1-le ") == ("FP1", "LE")
    assert electrode_name("PHOTIC-REF") is None and electrode_name("EMG-REF") is None


def test_decode_bad_files(root: Path) -> None:
    records, _ = _index(root)
    spec = TUAB()
    rec = records["aaaaaxyz_s002_t001#0"]
    path = root / rec.files[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated after indexing
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "corrupt_edf" and rec.files[0] in err.value.message
    path.unlink()
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "missing_file"
