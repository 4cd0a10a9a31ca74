"""TUEV catalog entry: .rec events -> one record per event (merged over channels), centred windows, rejections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyedflib
import pytest
from pyedflib import highlevel

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.tuev import CLASSES, TUEV, TUEVOptions

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
ELECTRODES += ["FZ", "CZ", "PZ"]


def write_edf(path: Path, seconds: int) -> np.ndarray:
    labels = [f"EEG {e}-REF" for e in ELECTRODES] + ["EEG EKG1-REF"]
    t = np.arange(seconds * FS) / FS
    sig = np.stack([20 * np.sin(2 * np.pi * 10 * t + c) + 3 * t for c in range(len(labels))])
    headers = highlevel.make_signal_headers(labels, sample_frequency=FS, physical_min=-500, physical_max=500)
    path.parent.mkdir(parents=True, exist_ok=True)
    highlevel.write_edf(
        str(path), sig, headers, {"patient_additional": "Age:7"}, file_type=pyedflib.FILETYPE_EDF
    )
    return sig


def write_rec(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    train = tmp_path / "edf/train/aaaaaaar"
    write_edf(train / "aaaaaaar_00000001.edf", 40)
    write_rec(
        train / "aaaaaaar_00000001.rec",
        [
            "0,20.0000,21.0000,1",  # spsw on three channels: one event
            "1,20.0000,21.0000,1",
            "14,20.0000,21.0000,1",
            "3,2.0000,3.0000,4",  # eyem near the start: window shifted to 0-10 s
            "5,38.5000,39.5000,6",  # bckg near the end: window shifted to 30-40 s
            "5,20.0000,21.0000,6",  # another label at the same time: its own event
        ],
    )
    evaluation = tmp_path / "edf/eval/aaaaaaas"
    write_edf(evaluation / "aaaaaaas_00000002.edf", 30)
    write_rec(evaluation / "aaaaaaas_00000002.rec", ["2,10.0,11.0,2", "", "7,15.0,16.0,3", "9,16.0,17.0,5"])
    return tmp_path


def _index(root: Path, **options) -> tuple[dict[str, RawRecord], list[Rejected]]:
    items = list(TUEV(TUEVOptions(**options)).index(root))
    return {i.record_id: i for i in items if isinstance(i, RawRecord)}, [
        i for i in items if isinstance(i, Rejected)
    ]


def test_registry_and_detect(root: Path, tmp_path_factory) -> None:
    assert catalog.get("tuev") is TUEV
    assert TUEV.classes == ("spsw", "gped", "pled", "eyem", "artf", "bckg")
    assert TUEV().detect(root)
    assert not TUEV().detect(tmp_path_factory.mktemp("empty"))
    with pytest.raises(CatalogError, match="edf/train"):
        list(TUEV().index(tmp_path_factory.mktemp("other")))


def test_events_targets_windows(root: Path) -> None:
    records, rejected = _index(root)
    assert rejected == []
    assert sorted(records) == [f"aaaaaaar_00000001#{k}" for k in range(4)] + [
        f"aaaaaaas_00000002#{k}" for k in range(3)
    ]
    eyem, spsw, bckg_mid, bckg_end = (records[f"aaaaaaar_00000001#{k}"] for k in range(4))
    assert spsw.target == tuple(1.0 if c == "spsw" else 0.0 for c in CLASSES)
    assert spsw.source_labels == "1" and spsw.meta["event"] == "spsw"
    assert spsw.meta["channels"] == [0, 1, 14]  # rows of one event on several channels are merged
    assert spsw.meta["window_start_s"] == 15.5  # centred on 20.5 s
    assert bckg_mid.meta["event"] == "bckg" and bckg_mid.meta["window_start_s"] == 15.5
    assert eyem.meta["event"] == "eyem" and eyem.meta["window_start_s"] == 0.0
    assert bckg_end.meta["window_start_s"] == 30.0 and bckg_end.meta["event_end_s"] == 39.5
    assert spsw.patient_id == "aaaaaaar" and spsw.split is None
    assert spsw.files == (
        "edf/train/aaaaaaar/aaaaaaar_00000001.edf",
        "edf/train/aaaaaaar/aaaaaaar_00000001.rec",
    )
    assert spsw.meta["age"] == 7.0
    ev = [records[f"aaaaaaas_00000002#{k}"] for k in range(3)]
    assert [r.meta["event"] for r in ev] == ["gped", "pled", "artf"]
    assert {r.split for r in ev} == {"test"}
    assert all(sum(r.target) == 1.0 for r in records.values())


def test_window_option(root: Path) -> None:
    records, _ = _index(root, window_seconds=5.0)
    assert records["aaaaaaar_00000001#1"].meta["window_start_s"] == 18.0
    assert records["aaaaaaar_00000001#1"].meta["window_seconds"] == 5.0


def test_rejections(root: Path) -> None:
    train = root / "edf/train/aaaaaaar"
    write_rec(
        train / "aaaaaaar_00000001.rec",
        [
            "0,20.0,21.0,1",
            "0,21.0,22.0,7",
            "0,22.0,23.0,x",
            "0,1,2",
            "0,39.5,40.5,6",
            "1,5.0,4.0,6",
            "2,3.0,4.0,0",
        ],
    )
    write_edf(root / "edf/train/aaaaaaat/aaaaaaat_00000001.edf", 20)  # no .rec
    write_rec(root / "edf/train/aaaaaaau/aaaaaaau_00000001.rec", ["0,1.0,2.0,6"])  # no .edf
    write_edf(root / "edf/train/aaaaaaav/aaaaaaav_00000001.edf", 8)
    write_rec(root / "edf/train/aaaaaaav/aaaaaaav_00000001.rec", ["0,1.0,2.0,6"])
    write_edf(root / "edf/train/aaaaaaaw_00000001.edf", 20)  # no subject folder
    (root / "edf/train/aaaaaaax").mkdir()
    (root / "edf/train/aaaaaaax/aaaaaaax_00000001.edf").write_bytes(b"\x00" * 300)
    write_rec(root / "edf/train/aaaaaaax/aaaaaaax_00000001.rec", ["0,1.0,2.0,6"])
    records, rejected = _index(root)
    rules = {r.record_id: r.rule for r in rejected}
    assert rules == {
        "aaaaaaar_00000001:line2": "unknown_event_code",
        "aaaaaaar_00000001:line3": "bad_annotation",
        "aaaaaaar_00000001:line4": "bad_annotation",
        "aaaaaaar_00000001:line5": "bad_event_time",
        "aaaaaaar_00000001:line6": "bad_event_time",
        "aaaaaaar_00000001:line7": "unknown_event_code",
        "aaaaaaat_00000001": "missing_annotation",
        "aaaaaaau_00000001": "missing_file",
        "aaaaaaav_00000001": "too_short",
        "aaaaaaaw_00000001": "unexpected_path",
        "aaaaaaax_00000001": "corrupt_edf",
    }
    unknown = next(r for r in rejected if r.record_id.endswith("line2"))
    assert unknown.source == "edf/train/aaaaaaar/aaaaaaar_00000001.rec" and "'7'" in unknown.message
    assert [rid for rid in records if rid.startswith("aaaaaaar")] == ["aaaaaaar_00000001#0"]


def test_decode(root: Path) -> None:
    records, _ = _index(root)
    rec = records["aaaaaaar_00000001#1"]
    raw, props = TUEV().decode(root, rec)
    assert props["channel_names"] == ELECTRODES  # EEG EKG1-REF is not an electrode
    assert raw.shape == (len(ELECTRODES), 15 * FS)  # 10 s window + 2.5 s margins
    assert props["window_offset"] == pytest.approx(2.5)
    first = int((15.5 - 2.5) * FS)
    np.testing.assert_allclose(
        raw[0, 0], 20 * np.sin(2 * np.pi * 10 * first / FS) + 3 * first / FS, atol=0.05
    )
    assert props["meta"]["event"] == "spsw"
    (root / rec.files[0]).write_bytes(b"")
    with pytest.raises(RecordError) as err:
        TUEV().decode(root, rec)
    assert err.value.rule == "empty_file"
