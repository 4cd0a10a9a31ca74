"""CinC 2020/2021 sample copies: real .hea/.mat layout wfdb reads, deterministic, class structure that the
#Dx labels explain and that shuffle_labels destroys."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import wfdb
from scipy.signal import butter, find_peaks, sosfiltfilt

from climbflow.catalog.base import RawRecord
from climbflow.catalog.cinc2021 import CPSC2018, LEADS, SNOMED, Chapman, Georgia
from climbflow.catalog.ptbxl import CLASSES
from climbflow.sampledata.cinc2021 import write_chapman, write_cinc_record, write_cpsc2018, write_georgia

N_STRUCTURE = 120


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _features(x: np.ndarray, fs: int = 500) -> tuple[float, float]:
    """(RR irregularity, QRS width in ms) of a (T, 12) record in mV (R peaks from the summed slope)."""
    x = sosfiltfilt(butter(3, [0.5, 40], btype="band", fs=fs, output="sos"), x, axis=0)
    slope = np.abs(np.diff(x, axis=0)).sum(axis=1)
    energy = np.convolve(slope, np.ones(15) / 15, mode="same")
    peaks, _ = find_peaks(energy, distance=int(0.3 * fs), height=0.3 * np.percentile(energy, 99))
    rr = np.diff(peaks) / fs
    inner = peaks[(peaks > 0.3 * fs) & (peaks < len(x) - 0.4 * fs)]
    profile = np.median(np.stack([slope[p - 75 : p + 75] for p in inner]), axis=0)
    return float(np.mean(np.abs(np.diff(rr))) / np.mean(rr)), float(
        np.sum(profile > 0.2 * profile.max()) * 2.0
    )


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


def _table(spec, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(targets (n, 7), features (n, 2)) of every indexed record, signals read straight from the .mat."""
    targets, feats = [], []
    for item in spec.index(root):
        assert isinstance(item, RawRecord), item
        val = scipy.io.loadmat(root / item.files[1])["val"]
        targets.append(item.target)
        feats.append(_features(val[:, :5000].T / 1000.0))
    return np.array(targets), np.array(feats)


@pytest.fixture(scope="module")
def structure(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    base = tmp_path_factory.mktemp("structure")
    return {
        "real": _table(Chapman(), write_chapman(base / "real", N_STRUCTURE, seed=3)),
        "shuffled": _table(
            Chapman(), write_chapman(base / "shuffled", N_STRUCTURE, seed=3, shuffle_labels=True)
        ),
    }


@pytest.mark.parametrize(
    ("writer", "spec", "folder", "first"),
    [
        (write_chapman, Chapman, "WFDB_ChapmanShaoxing", "JS00001"),
        (write_georgia, Georgia, "WFDB_Ga", "E00001"),
        (write_cpsc2018, CPSC2018, "WFDB_CPSC2018", "A0001"),
    ],
)
def test_layout_reads_back_with_wfdb(tmp_path: Path, writer, spec, folder: str, first: str) -> None:
    root = writer(tmp_path / "copy", 12, seed=0)
    assert sorted(p.name for p in (root / folder).iterdir())[:2] == [f"{first}.hea", f"{first}.mat"]
    assert len(list((root / folder).glob("*.mat"))) == 12 and spec().detect(root)
    raw = (root / folder / f"{first}.mat").read_bytes()
    rows, cols = struct.unpack("<5i", raw[:20])[1:3]
    assert struct.unpack("<5i", raw[:20]) == (30, 12, cols, 0, 4) and raw[20:24] == b"val\x00"
    assert len(raw) == 24 + 2 * rows * cols
    text = (root / folder / f"{first}.hea").read_text().splitlines()
    assert text[1].startswith(f"{first}.mat 16+24 1000/mV 16 0 ") and text[1].endswith(" 0 I")
    assert [line.split(":")[0] for line in text[13:]] == ["#Age", "#Sex", "#Dx", "#Rx", "#Hx", "#Sx"]
    assert all(code in SNOMED for code in text[15].split(": ")[1].split(","))
    record = wfdb.rdrecord(str(root / folder / first))
    val = scipy.io.loadmat(root / folder / f"{first}.mat")["val"]
    assert val.dtype == np.int16 and record.fs == 500 and record.sig_name == list(LEADS)
    assert record.byte_offset == [24] * 12 and record.fmt == ["16"] * 12
    np.testing.assert_allclose(record.p_signal, val.T / 1000.0)
    items = list(spec().index(root))
    assert len(items) == 12 and all(isinstance(r, RawRecord) for r in items)


def test_header_checksums_and_first_values_are_wfdbs(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(0.0, 0.8, (12, 5000))
    write_cinc_record(tmp_path, "JS00001", x, 500, ["#Dx: 426783006"])
    record = wfdb.rdrecord(str(tmp_path / "JS00001"), physical=False)
    digital = record.d_signal.T
    signed = (digital.astype(np.int64).sum(axis=1) + 32768) % 65536 - 32768
    assert record.checksum == signed.tolist() and record.init_value == digital[:, 0].tolist()
    assert record.comments == ["Dx: 426783006"]


def test_deterministic_and_seeded(tmp_path: Path) -> None:
    a = _hashes(write_georgia(tmp_path / "a", 10, seed=7))
    b = _hashes(write_georgia(tmp_path / "b", 10, seed=7))
    c = _hashes(write_georgia(tmp_path / "c", 10, seed=8))
    assert a == b and len(a) == 20 and a != c
    chapman = _hashes(write_chapman(tmp_path / "d", 10, seed=7))
    georgia_mats = {v for k, v in a.items() if k.endswith(".mat")}
    assert not georgia_mats & set(chapman.values())  # the sets are not copies of each other


def test_cpsc_lengths_and_vocabulary(tmp_path: Path) -> None:
    root = write_cpsc2018(tmp_path / "cpsc", 60, seed=1)
    records = [r for r in CPSC2018().index(root) if isinstance(r, RawRecord)]
    assert len(records) == 60
    durations = np.array([r.meta["duration_s"] for r in records])
    assert durations.min() >= 6.0 and durations.max() <= 31.0 and len(set(durations)) > 20
    assert (durations < 10).any() and (durations > 10).any()
    targets = np.array([r.target for r in records])
    assert targets[:, CLASSES.index("HYP")].sum() == 0 and targets[:, CLASSES.index("MI")].sum() == 0
    norm = targets[:, CLASSES.index("NORM")] == 1
    assert norm.any() and (targets[norm].sum(axis=1) == 1).all()  # CPSC "Normal" is never combined
    assert set(np.flatnonzero(targets.sum(axis=0))) == {
        CLASSES.index(c) for c in ("NORM", "CD", "STTC", "AFIB", "OTHER")
    }
    signal, props = CPSC2018().decode(root, max(records, key=lambda r: r.meta["duration_s"]))
    assert signal.shape[0] > 10 * 500 and np.isfinite(signal).all()
    assert np.abs(signal[4990:5010]).max() < 5.0  # segments join smoothly


def test_chapman_labels_multilabel(structure: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    targets, _ = structure["real"]
    assert (targets.sum(axis=0) >= 6).all()  # every class present
    assert (targets.sum(axis=1) >= 2).mean() > 0.1  # sinus rhythm + a finding is not NORM: no NORM combos
    norm_only = (targets[:, 0] == 1) & (targets.sum(axis=1) == 1)
    assert 0.2 < norm_only.mean() < 0.5


@pytest.mark.parametrize(("klass", "feature", "min_auc"), [("CD", 1, 0.85), ("AFIB", 0, 0.75)])
def test_class_structure_is_real_and_shuffling_breaks_it(
    structure: dict[str, tuple[np.ndarray, np.ndarray]], klass: str, feature: int, min_auc: float
) -> None:
    """A hand-made feature separates the class from the other records, not once shuffled."""
    aucs = {}
    for name, (targets, feats) in structure.items():
        positive = targets[:, CLASSES.index(klass)] == 1
        assert 15 <= positive.sum() <= len(positive) - 60
        aucs[name] = _auc(feats[positive, feature], feats[~positive, feature])
    assert aucs["real"] > min_auc, aucs
    assert 0.25 < aucs["shuffled"] < 0.75, aucs  # chance: with ~25 positives the AUC's spread is ~0.08


def test_shuffle_permutes_labels_only(structure: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    (t_real, f_real), (t_shuf, f_shuf) = structure["real"], structure["shuffled"]
    np.testing.assert_array_equal(f_real, f_shuf)
    assert sorted(map(tuple, t_real)) == sorted(map(tuple, t_shuf))
    assert (t_real != t_shuf).any(axis=1).mean() > 0.3


def test_pvcs_mark_other_in_cpsc(tmp_path: Path) -> None:
    """Premature ventricular complexes (OTHER in CPSC) are wide and large: the largest beat area stands out
    from the median beat area (100 ms moving sum of the band-passed leads)."""
    root = write_cpsc2018(tmp_path / "cpsc", 100, seed=2)
    sos = butter(3, [0.5, 40], btype="band", fs=500, output="sos")
    spread, targets = [], []
    for rec in CPSC2018().index(root):
        x = sosfiltfilt(sos, scipy.io.loadmat(root / rec.files[1])["val"][:, :5000].T / 1000.0, axis=0)
        area = np.convolve(np.abs(x).sum(axis=1), np.ones(50) / 50, mode="same")
        peaks, _ = find_peaks(area, distance=125, height=0.3 * area.max())
        spread.append(area[peaks].max() / np.median(area[peaks]))
        targets.append(rec.target)
    spread, labels = np.array(spread), np.array(targets)
    other, norm = labels[:, CLASSES.index("OTHER")] == 1, labels[:, CLASSES.index("NORM")] == 1
    assert other.sum() >= 8 and norm.sum() >= 15
    assert _auc(spread[other], spread[norm]) > 0.8


def test_rejects_zero_records(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_records"):
        write_chapman(tmp_path, 0)
