"""Store helpers: atomic publish, completion markers, credential redaction, patient-level hash splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from climbflow.store import uri as uris
from climbflow.store.splits import patient_split, unit_hash


def test_publish_is_atomic_and_needs_the_marker(tmp_path):
    dest = tmp_path / "out" / "abc"
    built = uris.staging_dir(str(dest))
    (built / "data.bin").write_bytes(b"x" * 10)
    with pytest.raises(RuntimeError, match="without report.json"):
        uris.publish(built, str(dest))
    assert not dest.exists() and not uris.is_complete(str(dest))
    (built / "report.json").write_text(json.dumps({"ok": True}))
    uris.publish(built, str(dest))
    assert uris.is_complete(str(dest)) and (dest / "data.bin").read_bytes() == b"x" * 10
    assert not built.exists()
    # staging dirs are hidden siblings: readers listing the parent never see half-written output
    assert [p.name for p in dest.parent.iterdir()] == ["abc"]


def test_republish_replaces_whole_directory(tmp_path):
    dest = tmp_path / "abc"
    for content in (b"old", b"new"):
        built = uris.staging_dir(str(dest))
        (built / "report.json").write_text("{}")
        (built / f"{content.decode()}.bin").write_bytes(content)
        uris.publish(built, str(dest))
    assert sorted(p.name for p in dest.iterdir()) == ["new.bin", "report.json"]


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("s3://AKIA123:secret@bucket/key", "s3://***@bucket/key"),
        ("https://user:pw@mlflow.example/api", "https://***@mlflow.example/api"),
        ("s3://bucket/key@v1", "s3://bucket/key@v1"),
        ("/local/path", "/local/path"),
    ],
)
def test_redact_drops_credentials(raw, safe):
    assert uris.redact(raw) == safe


def test_materialize_missing_local_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        uris.materialize(str(tmp_path / "nope"), tmp_path)


def test_patient_split_is_deterministic_and_proportional():
    splits = [patient_split(f"p{i}", 0, 0.1, 0.2) for i in range(5000)]
    assert splits == [patient_split(f"p{i}", 0, 0.1, 0.2) for i in range(5000)]
    frac = {s: splits.count(s) / len(splits) for s in ("train", "val", "test")}
    assert abs(frac["test"] - 0.2) < 0.03 and abs(frac["val"] - 0.1) < 0.03
    assert splits != [patient_split(f"p{i}", 1, 0.1, 0.2) for i in range(5000)]
    assert 0 <= unit_hash(3, "x") < 1


def test_iter_local_files_is_sorted_and_skips_hidden(tmp_path: Path):
    for rel in ("b/2.txt", "a/1.txt", ".git/x", "c/.hidden"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    assert [p.relative_to(tmp_path).as_posix() for p in uris.iter_local_files(tmp_path)] == [
        "a/1.txt",
        "b/2.txt",
    ]


def test_parallel_versioning_of_one_workspace_does_not_collide(tmp_path):
    """Two tasks of a ParallelFor `dvc add` + push into the same workspace repo at once."""
    from concurrent.futures import ProcessPoolExecutor

    from climbflow.store.versioning import version_and_push

    dirs = []
    for i in range(3):
        d = tmp_path / "ws" / "standardized" / f"d{i}"
        d.mkdir(parents=True)
        (d / "x.bin").write_bytes(bytes([i]) * 1000)
        dirs.append(d)
    with ProcessPoolExecutor(3) as pool:
        futures = [pool.submit(version_and_push, d, tmp_path / "ws", str(tmp_path / "remote")) for d in dirs]
        versions = [f.result() for f in futures]
    assert len({v.md5 for v in versions}) == 3
    assert all((tmp_path / "remote" / "files" / "md5" / v.md5[:2] / v.md5[2:]).exists() for v in versions)
