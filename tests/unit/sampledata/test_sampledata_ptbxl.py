"""PTB-XL sample copy: real layout, deterministic, real beat morphology, class structure that labels explain."""

from __future__ import annotations

import ast
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import wfdb
from scipy.signal import butter, find_peaks, sosfiltfilt

from climbflow.catalog.base import RawRecord
from climbflow.catalog.ptbxl import CLASSES, PTBXL
from climbflow.sampledata.ptbxl import (
    LEADS,
    NON_NORM,
    SCP_STATEMENTS,
    _annotation_error,
    _scp_codes,
    real_beat_template,
    write_ptbxl,
    write_wfdb16,
)

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas 3 vs wfdb internals

N_STRUCTURE = 240


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _features(x: np.ndarray, fs: int = 500) -> np.ndarray:
    """(RR irregularity, QRS width in ms, ST level of each lead (12), Q depth of each lead (12)) of a
    (T, 12) record, mV.

    R peaks from the summed absolute slope of the 0.5-40 Hz band-passed leads; QRS width = time the median
    slope profile around R stays above 20% of its peak; ST level = median beat at R+100 ms minus R-90 ms;
    Q depth = R-90 ms level minus the minimum of the median beat from R-70 to R-10 ms.
    """
    x = sosfiltfilt(butter(3, [0.5, 40], btype="band", fs=fs, output="sos"), x, axis=0)
    slope = np.abs(np.diff(x, axis=0)).sum(axis=1)
    energy = np.convolve(slope, np.ones(15) / 15, mode="same")
    peaks, _ = find_peaks(energy, distance=int(0.3 * fs), height=0.3 * np.percentile(energy, 99))
    rr = np.diff(peaks) / fs
    irregularity = float(np.mean(np.abs(np.diff(rr))) / np.mean(rr))
    inner = peaks[(peaks > 0.3 * fs) & (peaks < len(x) - 0.4 * fs)]
    profile = np.median(np.stack([slope[p - 75 : p + 75] for p in inner]), axis=0)
    width = float(np.sum(profile > 0.2 * profile.max()) / fs * 1000)
    beat = np.median(np.stack([x[p - 150 : p + 200] for p in inner]), axis=0)
    st = beat[150 + 50] - beat[150 - 45]
    q = beat[150 - 45] - beat[150 - 35 : 150 - 5].min(axis=0)
    return np.concatenate([[irregularity, width], st, q])


def _mi_score(feats: np.ndarray) -> np.ndarray:
    """Largest per-lead z-score of ST elevation or Q depth: each lead is standardised over all records
    (label-free), since normal ST levels and q waves differ between leads (V2-V3 ST, lateral septal q)."""
    per_lead = feats[:, 2:]
    z = (per_lead - np.median(per_lead, axis=0)) / per_lead.std(axis=0)
    return z.max(axis=1)


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(feature of a positive > feature of a negative)."""
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def _table(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """(targets (n, 7), features (n, 26), see :func:`_features`) of every indexed record.

    Signals are read straight from the format-16 .dat files (wfdb.rdsamp costs ~20 ms a record; the catalog
    tests cover decoding and test_wfdb_files_match_wrsamp the file format).
    """
    targets, feats = [], []
    for item in PTBXL().index(root):
        assert isinstance(item, RawRecord), item
        signal = np.fromfile(root / item.files[1], dtype="<i2").reshape(-1, len(LEADS)) / 1000.0
        targets.append(item.target)
        feats.append(_features(signal))
    return np.array(targets), np.array(feats)


@pytest.fixture(scope="module")
def structure(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    base = tmp_path_factory.mktemp("structure")
    return {
        "real": _table(write_ptbxl(base / "real", N_STRUCTURE, seed=3)),
        "shuffled": _table(write_ptbxl(base / "shuffled", N_STRUCTURE, seed=3, shuffle_labels=True)),
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_ptbxl(tmp_path_factory.mktemp("small") / "ptbxl", 60, seed=0)


def test_layout(small: Path) -> None:
    db = pd.read_csv(small / "ptbxl_database.csv")
    for column in (
        "ecg_id",
        "patient_id",
        "age",
        "sex",
        "scp_codes",
        "strat_fold",
        "filename_lr",
        "filename_hr",
    ):
        assert column in db.columns
    assert list(db["ecg_id"]) == list(range(1, 61))
    assert db["filename_hr"].iloc[0] == "records500/00000/00001_hr"
    assert db["filename_lr"].iloc[0] == "records100/00000/00001_lr"
    assert set(db["sex"]) <= {0, 1}
    for stem in db["filename_hr"]:
        header = wfdb.rdheader(str(small / stem))
        assert header.fs == 500 and header.sig_len == 5000 and header.sig_name == list(LEADS)
    lr = wfdb.rdheader(str(small / db["filename_lr"].iloc[0]))
    assert lr.fs == 100 and lr.sig_len == 1000
    statements = pd.read_csv(small / "scp_statements.csv", index_col=0)
    assert statements.loc["IMI", "diagnostic_class"] == "MI"
    assert statements.loc["CLBBB", "diagnostic_class"] == "CD"
    assert statements.loc["LVH", "diagnostic_class"] == "HYP"
    assert statements.loc["NDT", "diagnostic_class"] == "STTC"
    assert statements.loc["AFIB", "rhythm"] == 1.0 and pd.isna(statements.loc["AFIB", "diagnostic_class"])
    used = {code for codes in db["scp_codes"] for code in ast.literal_eval(codes)}
    assert used <= set(statements.index)


def test_wfdb_files_match_wrsamp(tmp_path: Path) -> None:
    x = np.random.default_rng(1).normal(0.0, 0.8, (5000, 12))
    write_wfdb16(tmp_path, "00001_hr", x, 500)
    ref = tmp_path / "ref"
    ref.mkdir()
    wfdb.wrsamp(
        "00001_hr",
        fs=500,
        units=["mV"] * 12,
        sig_name=list(LEADS),
        p_signal=x.copy(),
        fmt=["16"] * 12,
        adc_gain=[1000.0] * 12,
        baseline=[0] * 12,
        write_dir=str(ref),
    )
    for suffix in (".hea", ".dat"):
        assert (tmp_path / f"00001_hr{suffix}").read_bytes() == (ref / f"00001_hr{suffix}").read_bytes()


def test_deterministic(tmp_path: Path) -> None:
    a = _hashes(write_ptbxl(tmp_path / "a", 25, seed=7))
    b = _hashes(write_ptbxl(tmp_path / "b", 25, seed=7))
    c = _hashes(write_ptbxl(tmp_path / "c", 25, seed=8))
    assert a == b
    assert len(a) == 2 + 4 * 25
    assert a != c


def test_all_records_indexed_multilabel(small: Path) -> None:
    items = list(PTBXL().index(small))
    assert all(isinstance(r, RawRecord) for r in items) and len(items) == 60
    targets = np.array([r.target for r in items])
    norm_only = (targets[:, 0] == 1) & (targets.sum(axis=1) == 1)
    assert 0.25 < norm_only.mean() < 0.55
    assert (targets.sum(axis=1) >= 2).any()
    assert not ((targets[:, 0] == 1) & (targets.sum(axis=1) > 1)).any()  # NORM is never combined


def test_patients_and_folds(tmp_path: Path) -> None:
    root = write_ptbxl(tmp_path / "p", 200, seed=1)
    db = pd.read_csv(root / "ptbxl_database.csv")
    per_patient = db.groupby("patient_id")
    assert (per_patient.size() == 2).sum() >= 20  # some patients have two records
    assert (per_patient["strat_fold"].nunique() == 1).all()  # a patient never spans folds
    folds = Counter(db["strat_fold"])
    assert set(folds) == set(range(1, 11))
    assert max(folds.values()) <= 2 * min(folds.values())
    records = [r for r in PTBXL().index(root) if isinstance(r, RawRecord)]
    assert {r.split for r in records} == {"train", "val", "test"}
    assert all(
        len({r.split for r in records if r.patient_id == p}) == 1 for p in {r.patient_id for r in records}
    )


def test_beats_come_from_the_real_ecg() -> None:
    beat = real_beat_template()
    assert beat.shape == (8, 960)
    assert int(np.argmax(beat[1])) == 400 and 0.8 < beat[1].max() < 1.3  # lead II R peak (mV) at 0 ms
    assert abs(float(np.median(beat[:, :150]))) < 0.02  # isoelectric level removed


def test_limb_leads_follow_einthoven(small: Path) -> None:
    x, _ = wfdb.rdsamp(str(small / "records500/00000/00007_hr"))
    i, ii, iii, avr, avl, avf = (x[:, k] for k in range(6))
    np.testing.assert_allclose(iii, ii - i, atol=2e-3)
    np.testing.assert_allclose(avr, -(i + ii) / 2, atol=2e-3)
    np.testing.assert_allclose(avl, i - ii / 2, atol=2e-3)
    np.testing.assert_allclose(avf, ii - i / 2, atol=2e-3)


@pytest.mark.parametrize(
    ("klass", "feature", "min_auc"),
    [("CD", 1, 0.9), ("AFIB", 0, 0.75), ("MI", None, 0.8)],
    ids=["CD_qrs_width", "AFIB_rr_irregularity", "MI_st_q"],
)
def test_class_structure_is_real_and_shuffling_breaks_it(
    structure: dict[str, tuple[np.ndarray, np.ndarray]], klass: str, feature: int | None, min_auc: float
) -> None:
    """One hand-made feature separates the class from normal ECGs, far from perfectly (effects are small
    and variable, normal variation overlaps them, ~5% of annotations are wrong), and not once shuffled."""
    aucs = {}
    for name, (targets, feats) in structure.items():
        positive = targets[:, CLASSES.index(klass)] == 1
        norm_only = (targets[:, 0] == 1) & (targets.sum(axis=1) == 1)
        assert positive.sum() >= 15 and norm_only.sum() >= 40
        values = _mi_score(feats) if feature is None else feats[:, feature]
        aucs[name] = _auc(values[positive], values[norm_only])
    assert aucs["real"] > min_auc, aucs
    assert 0.3 < aucs["shuffled"] < 0.7, aucs


def test_shuffle_permutes_labels_only(structure: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    (t_real, f_real), (t_shuf, f_shuf) = structure["real"], structure["shuffled"]
    np.testing.assert_array_equal(f_real, f_shuf)  # same signals
    assert sorted(map(tuple, t_real)) == sorted(map(tuple, t_shuf))  # same label multiset
    assert (t_real != t_shuf).any(axis=1).mean() > 0.3


def test_annotation_errors_get_one_superclass_wrong_or_missing(small: Path) -> None:
    mapping = PTBXL().code_classes(small)
    rng = np.random.default_rng(0)
    kinds = Counter()
    for trial in range(400):
        k = trial % 3
        classes = ["NORM"] if k == 0 else sorted(rng.choice(NON_NORM, k, replace=False), key=NON_NORM.index)
        true = _scp_codes(rng, [str(c) for c in classes])
        noisy = _annotation_error(rng, true)
        assert set(noisy) <= set(SCP_STATEMENTS)
        before = {mapping[c] for c in true} - {None}
        after = {mapping[c] for c in noisy} - {None}
        assert after and ("NORM" not in after or after == {"NORM"})  # still labelled, NORM never combined
        assert len(before - after) <= 1 and len(after - before) <= 1 and before != after
        kinds["missing" if after < before else "wrong"] += 1
    assert kinds["missing"] > 50 and kinds["wrong"] > 50, kinds


def test_rejects_zero_records(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_records"):
        write_ptbxl(tmp_path, 0)
