"""TUAB/TUEV sample writers: real layouts and EDF headers, determinism, class structure, shuffle_labels."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyedflib
import pytest
from scipy.signal import butter, sosfiltfilt, welch
from sklearn.metrics import roc_auc_score

from climbflow.sampledata.tuh import write_tuab, write_tuev

TUAB_PATH = re.compile(r"^edf/(train|eval)/(normal|abnormal)/01_tcp_ar/([a-z]{8})_s(\d{3})_t(\d{3})\.edf$")
TUEV_PATH = re.compile(r"^edf/(train|eval)/([a-z]{8})/([a-z]{8})_(\d{8})\.(edf|rec)$")
REC_LINE = re.compile(r"^(\d+),(\d+\.\d{4}),(\d+\.\d{4}),([1-6])$")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _eeg(path: Path, n: int = 19) -> np.ndarray:
    reader = pyedflib.EdfReader(str(path))
    try:
        return np.stack([reader.readSignal(i) for i in range(n)])
    finally:
        reader.close()


@pytest.fixture(scope="module")
def tuab(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("tuab")
    return write_tuab(base / "plain", 24, seed=0), write_tuab(
        base / "shuffled", 24, seed=0, shuffle_labels=True
    )


@pytest.fixture(scope="module")
def tuev(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("tuev")
    return write_tuev(base / "plain", 24, seed=0), write_tuev(
        base / "shuffled", 24, seed=0, shuffle_labels=True
    )


def test_tuab_layout_and_header(tuab: tuple[Path, Path]) -> None:
    root = tuab[0]
    paths = sorted(_files(root))
    assert len(paths) == 24
    matches = [TUAB_PATH.match(p) for p in paths]
    assert all(matches), [p for p, m in zip(paths, matches, strict=True) if not m]
    assert {m.group(1) for m in matches} == {"train", "eval"}
    assert {(m.group(1), m.group(2)) for m in matches} >= {("eval", "normal"), ("eval", "abnormal")}
    split_of: dict[str, set[str]] = {}
    for m in matches:
        split_of.setdefault(m.group(3), set()).add(m.group(1))
    assert all(len(s) == 1 for s in split_of.values())  # subjects are patient-disjoint across splits
    assert len(split_of) < 24  # some subjects have two sessions
    reader = pyedflib.EdfReader(str(root / paths[0]))
    try:
        labels = reader.getSignalLabels()
        assert labels[:3] == ["EEG FP1-REF", "EEG FP2-REF", "EEG F3-REF"] and "PHOTIC-REF" in labels
        assert set(reader.getSampleFrequencies()) == {250.0}
        assert reader.getPhysicalDimension(0) == "uV"
        assert 20 <= reader.getFileDuration() <= 40
        patient = reader.patient.decode() if isinstance(reader.patient, bytes) else reader.patient
        assert re.match(r"^[a-z]{8} [MF] \d\d-[A-Z]{3}-\d{4} [a-z]{8} Age:\d+", patient)
    finally:
        reader.close()


def test_tuev_layout(tuev: tuple[Path, Path]) -> None:
    files = _files(tuev[0])
    assert {m.group(1) for m in map(TUEV_PATH.match, files)} == {"train", "eval"}
    edfs = [p for p in files if p.endswith(".edf")]
    assert len(edfs) == 24 and all(TUEV_PATH.match(p) for p in files)
    for p in edfs:
        assert p[:-4] + ".rec" in files
        m = TUEV_PATH.match(p)
        assert m.group(2) == m.group(3)  # file name starts with the subject folder
        lines = files[p[:-4] + ".rec"].decode().splitlines()
        assert lines and all(REC_LINE.match(line) for line in lines), lines[:3]
        assert all(int(line.split(",")[0]) < 22 for line in lines)  # TCP montage channel indices


def test_deterministic(tmp_path: Path) -> None:
    for writer in (write_tuab, write_tuev):
        a, b, c = (
            writer(tmp_path / f"{writer.__name__}-{k}", 3, seed=s) for k, s in ((1, 5), (2, 5), (3, 6))
        )
        assert _files(a) == _files(b)
        assert _files(a) != _files(c)


def _slow_over_alpha(x: np.ndarray) -> float:
    f, p = welch(x, fs=250, nperseg=500)
    return float(np.log(p[:, (f >= 1) & (f < 7.5)].sum() / p[:, (f >= 8) & (f < 13)].sum()))


def test_tuab_class_structure_and_shuffle(tuab: tuple[Path, Path]) -> None:
    """Abnormal recordings are slower (more delta/theta for their alpha); shuffle_labels only moves files
    between label folders, which destroys that association."""
    plain, shuffled = (_files(root) for root in tuab)
    by_name = {Path(p).name: p for p in plain}
    assert sorted(Path(p).name for p in shuffled) == sorted(by_name)
    feature = {Path(p).name: _slow_over_alpha(_eeg(tuab[0] / p)) for p in plain}
    names = sorted(feature)
    values = [feature[n] for n in names]
    plain_auc = roc_auc_score(["/abnormal/" in by_name[n] for n in names], values)
    shuffled_label = {Path(p).name: "/abnormal/" in p for p in shuffled}
    shuffled_auc = roc_auc_score([shuffled_label[n] for n in names], values)
    assert plain_auc > 0.7
    assert shuffled_auc < plain_auc - 0.15
    for p in shuffled:  # same signals, only the folder changed
        assert shuffled[p] == plain[by_name[Path(p).name]]


def _event_amplitudes(root: Path) -> dict[tuple[str, float], tuple[int, float]]:
    """(file, event start) -> (code, largest peak-to-peak over electrodes in the event's second, 1-45 Hz)."""
    sos = butter(4, [1, 45], btype="bandpass", fs=250, output="sos")
    out = {}
    for path in sorted(root.glob("edf/*/*/*.edf")):
        x = sosfiltfilt(sos, _eeg(path), axis=1)
        for line in path.with_suffix(".rec").read_text().split():
            _, start, _, code = line.split(",")
            seg = x[:, int(float(start) * 250) : int((float(start) + 1) * 250)]
            out[(path.name, float(start))] = (int(code), float(np.ptp(seg, axis=1).max()))
    return out


def test_tuev_class_structure_and_shuffle(tuev: tuple[Path, Path]) -> None:
    """Events (spikes, discharges, eye movements, artefacts) are larger than background epochs; with
    shuffle_labels the codes are permuted over the same signals and the difference goes."""
    plain, shuffled = (_event_amplitudes(root) for root in tuev)
    assert plain.keys() == shuffled.keys()
    assert len({code for code, _ in plain.values()}) == 6  # every class present

    def ratio(events: dict[tuple[str, float], tuple[int, float]]) -> float:
        background = [a for code, a in events.values() if code == 6]
        other = [a for code, a in events.values() if code != 6]
        return float(np.median(other) / np.median(background))

    assert [a for _, a in plain.values()] == [a for _, a in shuffled.values()]  # identical signals
    assert [c for c, _ in plain.values()] != [c for c, _ in shuffled.values()]
    assert ratio(plain) > 1.3
    assert ratio(shuffled) < ratio(plain) - 0.3
