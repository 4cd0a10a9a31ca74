"""EchoNet sample copy: real layout, deterministic, EF spread, wall motion that follows EF, shuffle control."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import uniform_filter
from scipy.stats import spearmanr

from climbflow import sampledata
from climbflow.catalog.base import RawRecord
from climbflow.catalog.echonet import FILE_LIST_COLUMNS, TRACING_COLUMNS, EchoNetEF, EchoNetLowEF
from climbflow.sampledata.echonet import write_echonet

N_STRUCTURE = 40


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _rows(root: Path, name: str) -> list[dict[str, str]]:
    with (root / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("echonet")
    write_echonet(base / "true", N_STRUCTURE, seed=0)
    write_echonet(base / "shuffled", N_STRUCTURE, seed=0, shuffle_labels=True)
    return base / "true", base / "shuffled"


def test_deterministic_and_seed_dependent(tmp_path):
    write_echonet(tmp_path / "a", 4, seed=3)
    write_echonet(tmp_path / "b", 4, seed=3)
    write_echonet(tmp_path / "c", 4, seed=4)
    a = _hashes(tmp_path / "a")
    assert a == _hashes(tmp_path / "b") and len(a) == 6  # 4 AVIs + 2 csvs
    assert a != _hashes(tmp_path / "c")


def test_registered_for_both_entries(tmp_path):
    assert sampledata.WRITERS["echonet"] == sampledata.WRITERS["echonet_ef"]
    root = sampledata.write("echonet_ef", tmp_path / "copy", 3, seed=1)
    assert len(list((root / "Videos").glob("*.avi"))) == 3


def test_real_layout(copies):
    root, _ = copies
    rows = _rows(root, "FileList.csv")
    assert list(rows[0]) == list(FILE_LIST_COLUMNS) and len(rows) == N_STRUCTURE
    for row in rows:
        assert row["FileName"].startswith("0X") and not row["FileName"].endswith(".avi")
        assert (root / "Videos" / f"{row['FileName']}.avi").is_file()
        ef, esv, edv = float(row["EF"]), float(row["ESV"]), float(row["EDV"])
        assert 20 <= ef <= 75 and abs(esv - edv * (1 - ef / 100)) < 0.02
        assert (row["FrameHeight"], row["FrameWidth"], row["FPS"]) == ("112", "112", "30")
        assert 24 <= int(row["NumberOfFrames"]) <= 32
    splits = [r["Split"] for r in rows]
    assert set(splits) == {"TRAIN", "VAL", "TEST"} and splits.count("TRAIN") / len(splits) >= 0.7
    efs = np.array([float(r["EF"]) for r in rows])
    assert 0.25 <= (efs < 50).mean() <= 0.75  # both EF<50 classes
    tracings = _rows(root, "VolumeTracings.csv")
    assert list(tracings[0]) == list(TRACING_COLUMNS)
    per_video: dict[str, list[int]] = {}
    for t in tracings:
        per_video.setdefault(t["FileName"], []).append(int(t["Frame"]))
    assert set(per_video) == {f"{r['FileName']}.avi" for r in rows}
    assert all(len(frames) == 42 and len(set(frames)) == 2 for frames in per_video.values())


def test_catalog_reads_the_copy(copies):
    root, _ = copies
    items = list(EchoNetLowEF().index(root))
    assert all(isinstance(i, RawRecord) for i in items) and len(items) == N_STRUCTURE
    rows = {r["FileName"]: r for r in _rows(root, "FileList.csv")}
    record = items[0]
    video, props = EchoNetLowEF().decode(root, record)
    assert video.shape == (int(rows[record.record_id]["NumberOfFrames"]), 112, 112, 3)
    assert props["sampling_rate"] == 30.0
    assert np.abs(video[..., 0].astype(int) - video[..., 2]).max() <= 12  # grey stored as 3 channels (MJPG)
    assert record.meta["es_frame"] != record.meta["ed_frame"]


def _wall_motion(root: Path) -> dict[str, float]:
    """1 - min/max of the dark (blood pool) area in the centre of each clip: large when the LV contracts."""
    spec = EchoNetEF()
    out = {}
    for rec in spec.index(root):
        video, _ = spec.decode(root, rec)
        grey = uniform_filter(video[..., 0].astype(np.float32), (1, 3, 3))
        area = (grey[:, 28:90, 38:78] < 30).sum(axis=(1, 2)) + 1.0
        out[rec.record_id] = 1.0 - area.min() / area.max()
    return out


def test_wall_motion_follows_ef_and_shuffling_destroys_it(copies):
    true, shuffled = copies
    assert {k: v for k, v in _hashes(true).items() if k.endswith(".avi")} == {
        k: v for k, v in _hashes(shuffled).items() if k.endswith(".avi")
    }
    motion = _wall_motion(true)  # the videos are the same in both copies
    ef_true = {r["FileName"]: float(r["EF"]) for r in _rows(true, "FileList.csv")}
    ef_shuffled = {r["FileName"]: float(r["EF"]) for r in _rows(shuffled, "FileList.csv")}
    assert sorted(ef_true.values()) == sorted(ef_shuffled.values()) and ef_true != ef_shuffled
    names = sorted(motion)
    rho_true = spearmanr([motion[n] for n in names], [ef_true[n] for n in names])[0]
    rho_shuffled = spearmanr([motion[n] for n in names], [ef_shuffled[n] for n in names])[0]
    assert rho_true > 0.45, rho_true
    assert abs(rho_shuffled) < 0.3, rho_shuffled
