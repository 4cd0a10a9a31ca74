"""ingest refuses files that must not enter the snapshot: links out of the source root, loops, dangling links."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from climbflow.stages import ingest, validate


def _source_with_bad_links(sample_root: Path, tmp_path: Path) -> tuple[Path, bytes]:
    src = tmp_path / "raw" / "ptbxl"
    shutil.copytree(sample_root / "ptbxl", src)
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"PHI outside the dataset root\n")
    records = sorted((src / "records500").rglob("*.dat"))
    # one record's signal becomes a link out of the root, one a loop, one a dangling link
    records[0].unlink()
    records[0].symlink_to(secret)
    records[1].unlink()
    records[1].symlink_to(records[1].name)  # a link to itself: a loop
    records[2].unlink()
    records[2].symlink_to(src / "no-such-file.dat")
    return src, secret.read_bytes()


def _files_under(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, files in os.walk(root) for f in files]


def test_links_out_of_root_loops_and_dangling_links_are_refused(sample_root, tmp_path, params_factory):
    src, secret = _source_with_bad_links(sample_root, tmp_path)
    params = params_factory({"ptbxl": str(src)})
    snap = ingest.run(params, "ptbxl")  # before: a traceback (loop), or the secret copied and pushed
    assert snap.report["refused_by_rule"] == {"dangling_link": 1, "symlink_loop": 1, "unsafe_path": 1}
    by_rule = {r["rule"]: r for r in snap.report["refused_files"]}
    assert "outside the source root" in by_rule["unsafe_path"]["message"]
    assert str(src) in by_rule["unsafe_path"]["message"], "the message names the user's source path"
    paths = set(pd.read_parquet(Path(snap.uri) / "files.parquet")["path"])
    assert not paths & {r["path"] for r in snap.report["refused_files"]}
    # nothing outside the root reached the snapshot or the DVC remote (content-addressed: search by bytes)
    remote = Path(params.workspace.root) / "dvc-remote"
    assert remote.is_dir() and _files_under(remote), "the snapshot was pushed"
    for root in (Path(snap.uri), remote):
        assert all(p.read_bytes() != secret for p in _files_under(root) if p.is_file()), root


def test_the_records_behind_refused_files_are_quarantined_one_by_one(sample_root, tmp_path, params_factory):
    src, _ = _source_with_bad_links(sample_root, tmp_path)
    params = params_factory({"ptbxl": str(src)})
    snap = ingest.run(params, "ptbxl")
    val = validate.run(params, "ptbxl", snap.uri)
    assert val.report["passed"], "three bad files quarantine three records, not the whole dataset"
    assert val.report["n_rejected"] == 3


def test_an_unreadable_file_is_refused_alone(sample_root, tmp_path, params_factory, monkeypatch):
    src = tmp_path / "raw" / "ptbxl"
    shutil.copytree(sample_root / "ptbxl", src)
    locked = sorted((src / "records500").rglob("*.dat"))[0]
    if os.geteuid() == 0:  # root reads a mode-000 file: raise the EACCES the OS gives everyone else
        from climbflow.store import uri as uris

        real = uris.sha256_file

        def sha256_file(path):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(uris, "sha256_file", sha256_file)
    else:
        locked.chmod(0)
    params = params_factory({"ptbxl": str(src)})
    snap = ingest.run(params, "ptbxl")  # before: a traceback that ended the whole ingest
    assert snap.report["refused_by_rule"] == {"unreadable": 1}
    (refused,) = snap.report["refused_files"]
    assert refused["path"] == locked.relative_to(src).as_posix() and "Permission denied" in refused["message"]
    assert validate.run(params, "ptbxl", snap.uri).report["n_rejected"] == 1
