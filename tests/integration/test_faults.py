"""Storage outages against a real SeaweedFS S3 server that is stopped and restarted mid-operation: publish,
download (materialize) and DVC push are retried with backoff and succeed; a permanent outage fails fast with a
message naming the endpoint (no credentials)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from climbflow.store import uri as uris
from climbflow.store.retry import StorageUnavailable

pytestmark = pytest.mark.integration


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _built(tmp_path: Path, n: int = 6) -> Path:
    out = tmp_path / "built"
    (out / "shards").mkdir(parents=True)
    for i in range(n):
        (out / "shards" / f"shard-{i:05d}.npy").write_bytes(hashlib.sha256(str(i).encode()).digest() * 512)
    (out / uris.COMPLETION_MARKER).write_text(json.dumps({"stage": "test", "n": n}))
    return out


def test_publish_survives_a_server_restart_midway(restartable_s3_env, tmp_path, monkeypatch, caplog):
    s3 = restartable_s3_env
    bucket = s3.server.make_bucket("fault-publish")
    built = _built(tmp_path)
    expected = _tree(built)
    fs = uris.s3_filesystem()
    real_put, calls, threads = fs.put_file, [], []

    def put_file(lpath, rpath, *args, **kwargs):
        calls.append(rpath)
        if len(calls) == 3:  # two files are up: the server goes down, and comes back 4 s later
            s3.stop()
            threads.append(s3.restart_after(4))
        return real_put(lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(fs, "put_file", put_file)
    uri = f"s3://{bucket}/standardized/x/key1"
    caplog.set_level("WARNING", logger="climbflow.store.retry")
    uris.publish(built, uri)
    for thread in threads:
        thread.join(60)
    retries = [r.getMessage() for r in caplog.records if "retry 1/" in r.getMessage()]
    assert threads and len(calls) > len(expected) and retries  # it failed, waited and was retried
    assert s3.endpoint in retries[0] and s3.secret_key not in retries[0]
    monkeypatch.undo()
    for key, value in s3.server.env().items():
        monkeypatch.setenv(key, value)
    assert uris.is_complete(uri)
    local = uris.materialize(uri, tmp_path / "cache")
    assert _tree(local) == expected


def test_materialize_and_dvc_push_wait_for_the_server_to_come_back(restartable_s3_env, tmp_path, params_dir):
    from climbflow.store.versioning import read_dvc_file, version_and_push

    s3 = restartable_s3_env
    bucket = s3.server.make_bucket("fault-pull")
    built = _built(tmp_path, n=3)
    expected = _tree(built)
    uri = f"s3://{bucket}/raw/x/snap"
    uris.publish(built, uri)

    s3.stop()
    thread = s3.restart_after(4)
    local = uris.materialize(uri, tmp_path / "cache")  # first attempts fail: connection refused
    thread.join(60)
    assert _tree(local) == expected

    ws = params_dir / "workspace"
    store = ws / "standardized" / "x" / "key1"
    store.parent.mkdir(parents=True)
    _built(tmp_path / "again", n=4).rename(store)
    remote_bucket = s3.server.make_bucket("fault-dvc")
    s3.stop()
    thread = s3.restart_after(4)
    version = version_and_push(store, ws, f"s3://{remote_bucket}/store", s3.endpoint)
    thread.join(60)
    assert version.pushed and read_dvc_file(store).pushed
    keys = {
        o["Key"]
        for o in s3.server.client().list_objects_v2(Bucket=remote_bucket, MaxKeys=1000).get("Contents", [])
    }
    md5 = version.md5
    assert f"store/files/md5/{md5[:2]}/{md5[2:]}" in keys and len(keys) == 1 + 4 + 1  # .dir + files


def test_permanent_outage_fails_with_the_endpoint_named_not_a_hang(restartable_s3_env, tmp_path, monkeypatch):
    s3 = restartable_s3_env
    monkeypatch.setenv("CLIMB_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("CLIMB_RETRY_BASE_S", "0.2")
    s3.server.make_bucket("fault-down")
    built = _built(tmp_path, n=2)
    s3.stop()
    try:
        start = time.monotonic()
        with pytest.raises(StorageUnavailable) as err:
            uris.publish(built, "s3://fault-down/out/key")
        elapsed = time.monotonic() - start
        message = str(err.value)
        assert s3.endpoint in message and "unreachable after 3 attempts" in message
        assert s3.secret_key not in message and s3.access_key not in message
        assert elapsed < 60
        with pytest.raises(StorageUnavailable, match="127.0.0.1"):
            uris.is_complete("s3://fault-down/out/key")
    finally:
        s3.start()


@pytest.fixture
def params_dir(tmp_path):
    (tmp_path / "workspace").mkdir()
    return tmp_path
