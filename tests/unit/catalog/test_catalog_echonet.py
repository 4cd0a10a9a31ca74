"""EchoNet-Dynamic catalog entries: FileList.csv layout, EF targets, official split, named rejections, AVIs."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from climbflow import catalog
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.catalog.echonet import FILE_LIST_COLUMNS, EchoNetEF, EchoNetLowEF

# FileName, EF, Split (the real FileList.csv has no extension in FileName; one row has it, also accepted)
ROWS = [
    ("0X100009310A3BE7FC", "78.50", "TRAIN"),
    ("0X1002E8FBACD08477", "31.20", "VAL"),
    ("0X1005D03EED19C65B.avi", "49.99", "TEST"),
    ("0X10075961BC11C88E", "50.00", "TRAIN"),
]
H, W, N_FRAMES, FPS = 24, 32, 6, 50


def _avi(path: Path, n_frames: int = N_FRAMES, value: int | None = None) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    rng = np.random.default_rng(0)
    for i in range(n_frames):
        frame = np.zeros((H, W, 3), np.uint8)
        frame[:, :, 2] = 200  # BGR red plane: decode must return RGB
        frame[:, : W // 2, 0] = 20 + 30 * i if value is None else value
        frame[H // 2 :, :, 1] = rng.integers(0, 30)
        writer.write(frame)
    writer.release()


def make_copy(root: Path, rows=ROWS, tracings: bool = True) -> Path:
    (root / "Videos").mkdir(parents=True, exist_ok=True)
    with (root / "FileList.csv").open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(FILE_LIST_COLUMNS)
        for name, ef, split in rows:
            ef_value = float(ef) if ef.replace(".", "", 1).isdigit() else 50.0
            out.writerow([name, ef, f"{40 * (1 - ef_value / 100):.2f}", "40.0", H, W, FPS, N_FRAMES, split])
            stem = name[:-4] if name.endswith(".avi") else name
            _avi(root / "Videos" / f"{stem}.avi")
    if tracings:
        with (root / "VolumeTracings.csv").open("w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(["FileName", "X1", "Y1", "X2", "Y2", "Frame"])
            for frame in (4, 1):  # ES first, then ED, as in the real file
                for k in range(3):
                    out.writerow([f"{ROWS[0][0]}.avi", 10.5, 3.0 + k, 20.25, 3.0 + k, frame])
    return root


def _index(spec, root: Path) -> tuple[list[RawRecord], list[Rejected]]:
    items = list(spec.index(root))
    return [i for i in items if isinstance(i, RawRecord)], [i for i in items if isinstance(i, Rejected)]


def test_registered_entries_and_label_spaces():
    assert catalog.get("echonet") is EchoNetLowEF and catalog.get("echonet_ef") is EchoNetEF
    assert EchoNetLowEF.task == "binary" and len(EchoNetLowEF.classes) == 1
    assert "50" in EchoNetLowEF.classes[0]
    assert EchoNetEF.task == "regression" and EchoNetEF.classes == ("EF",)
    assert EchoNetLowEF.modality == EchoNetEF.modality == "video" and EchoNetLowEF.official_split


def test_index_targets_splits_and_meta(tmp_path):
    root = make_copy(tmp_path)
    low, rejected = _index(EchoNetLowEF(), root)
    ef, _ = _index(EchoNetEF(), root)
    assert not rejected
    assert [r.record_id for r in low] == [
        "0X100009310A3BE7FC",
        "0X1002E8FBACD08477",
        "0X1005D03EED19C65B",
        "0X10075961BC11C88E",
    ]
    assert [r.target for r in low] == [(0.0,), (1.0,), (1.0,), (0.0,)]  # EF < 50 is positive; 50.00 is not
    assert [r.target for r in ef] == [(78.5,), (31.2,), (49.99,), (50.0,)]
    assert [r.split for r in low] == ["train", "val", "test", "train"]
    first = low[0]
    assert first.files == ("Videos/0X100009310A3BE7FC.avi",) and first.patient_id == first.record_id
    assert low[2].files == ("Videos/0X1005D03EED19C65B.avi",)  # FileName given with .avi
    assert first.meta["es_frame"] == 4 and first.meta["ed_frame"] == 1
    assert low[1].meta["es_frame"] is None  # no tracings for this video
    assert first.meta["filelist_fps"] == FPS and first.meta["filelist_frames"] == N_FRAMES
    assert first.source_labels == "EF=78.50"


@pytest.mark.parametrize("value", ["VALID", "valid", "VALIDATE", "", "train2"])
def test_unknown_split_is_rejected_naming_the_value(tmp_path, value):
    rows = [*ROWS]
    rows[1] = (rows[1][0], rows[1][1], value)
    records, rejected = _index(EchoNetLowEF(), make_copy(tmp_path, rows))
    assert len(records) == 3 and "0X1002E8FBACD08477" not in {r.record_id for r in records}
    (rej,) = rejected
    assert rej.rule == "unknown_split" and rej.record_id == "0X1002E8FBACD08477"
    assert repr(value) in rej.message and rej.source == "FileList.csv" and "line 3" in rej.message


def test_split_case_is_normalised(tmp_path):
    rows = [(n, ef, s.lower()) for n, ef, s in ROWS]
    records, rejected = _index(EchoNetEF(), make_copy(tmp_path, rows))
    assert not rejected and [r.split for r in records] == ["train", "val", "test", "train"]


@pytest.mark.parametrize("value", ["", "nan", "-3", "100.5", "abc", "inf"])
def test_bad_ef_is_rejected(tmp_path, value):
    rows = [*ROWS]
    rows[0] = (rows[0][0], value, rows[0][2])
    for spec in (EchoNetLowEF(), EchoNetEF()):
        records, rejected = _index(spec, make_copy(tmp_path, rows))
        assert len(records) == 3
        assert [(r.rule, r.record_id) for r in rejected] == [("bad_ef", "0X100009310A3BE7FC")]
        assert repr(value) in rejected[0].message


def test_missing_video_and_duplicates_are_rejected(tmp_path):
    root = make_copy(tmp_path, [*ROWS, (ROWS[0][0] + ".avi", "60", "TEST")])
    (root / "Videos" / "0X1002E8FBACD08477.avi").unlink()
    records, rejected = _index(EchoNetLowEF(), root)
    assert len(records) == 3
    assert sorted((r.rule, r.record_id) for r in rejected) == [
        ("duplicate_record", "0X100009310A3BE7FC"),
        ("missing_file", "0X1002E8FBACD08477"),
    ]
    missing = next(r for r in rejected if r.rule == "missing_file")
    assert missing.source == "Videos/0X1002E8FBACD08477.avi"


def test_tracings_are_optional(tmp_path):
    records, rejected = _index(EchoNetLowEF(), make_copy(tmp_path, tracings=False))
    assert len(records) == 4 and not rejected and records[0].meta["es_frame"] is None


def test_detect_and_missing_metadata(tmp_path):
    assert not EchoNetLowEF().detect(tmp_path)
    with pytest.raises(CatalogError, match="FileList.csv"):
        list(EchoNetLowEF().index(tmp_path))
    root = make_copy(tmp_path)
    assert EchoNetLowEF().detect(root) and EchoNetEF().detect(root)
    lines = (root / "FileList.csv").read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, c in enumerate(header) if c != "Split"]
    (root / "FileList.csv").write_text(
        "\n".join(",".join(line.split(",")[i] for i in keep) for line in lines) + "\n"
    )
    with pytest.raises(CatalogError) as err:
        list(EchoNetLowEF().index(root))
    assert "FileList.csv" in str(err.value) and "'Split'" in str(err.value)


def test_decode_rgb_frames_fps_and_meta(tmp_path):
    root = make_copy(tmp_path)
    records, _ = _index(EchoNetLowEF(), root)
    video, props = EchoNetLowEF().decode(root, records[0])
    assert video.shape == (N_FRAMES, H, W, 3) and video.dtype == np.uint8
    assert abs(float(video[..., 0].mean()) - 200) < 12  # red channel first (BGR -> RGB)
    left_blue = video[:, :, : W // 2 - 2, 2].mean(axis=(1, 2))
    assert np.all(np.diff(left_blue) > 15)  # frames in order
    assert props["sampling_rate"] == FPS
    assert props["meta"] == {"fps": float(FPS), "n_frames": N_FRAMES, "orig_size": [H, W]}


def test_decode_bad_files(tmp_path):
    root = make_copy(tmp_path)
    records, _ = _index(EchoNetLowEF(), root)
    spec, rec = EchoNetLowEF(), records[0]
    path = root / rec.files[0]

    path.write_bytes(b"")
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "empty_file" and path.name in err.value.message

    path.write_bytes(b"RIFF not really an avi" * 20)
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "corrupt_video" and str(path) in err.value.message

    big = tmp_path / "big.avi"  # noisy frames: the header is a small part of the file
    writer = cv2.VideoWriter(str(big), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (64, 64))
    for frame in np.random.default_rng(1).integers(0, 256, (20, 64, 64, 3), dtype=np.uint8):
        writer.write(frame)
    writer.release()
    data = big.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated: fewer frames than the container declares
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "corrupt_video" and "truncated" in err.value.message

    path.unlink()
    with pytest.raises(RecordError) as err:
        spec.decode(root, rec)
    assert err.value.rule == "missing_file"


def test_decode_falls_back_to_filelist_fps(tmp_path, monkeypatch):
    root = make_copy(tmp_path)
    records, _ = _index(EchoNetLowEF(), root)
    real = cv2.VideoCapture

    class NoFps:  # a container that does not declare its frame rate
        def __init__(self, path: str):
            self.capture = real(path)

        def get(self, prop: int) -> float:
            return 0.0 if prop == cv2.CAP_PROP_FPS else self.capture.get(prop)

        def __getattr__(self, name: str):
            return getattr(self.capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", NoFps)
    _, props = EchoNetLowEF().decode(root, records[0])
    assert props["sampling_rate"] == FPS
    bare = RawRecord(**{**records[0].__dict__, "meta": {**records[0].meta, "filelist_fps": math.nan}})
    with pytest.raises(RecordError) as err:
        EchoNetLowEF().decode(root, bare)
    assert err.value.rule == "bad_sampling_rate"
