"""Services for the cluster-faithful tier: the component image built with podman, podman's Docker-compatible
API, a real PostgreSQL server, an `mlflow server` on it (the backend the k8s Deployment uses) with artifacts on a
real SeaweedFS S3 server. Every pipeline task then runs in its own container as uid 10001 and shares nothing with
the others but S3, the MLflow server and the KFP pipeline root (exactly what pods share on a cluster).

Where podman is missing the tier is skipped with the reason, except in CI (``$CI`` set), where it fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import (  # noqa: F401 - s3_server: the fixture, reused
    free_port,
    running_mlflow_server,
    s3_server,
    stop,
)

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TASK_UID = 10001


def _missing(what: str) -> None:
    message = f"{what} (the container tier needs it; .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def podman_api():
    """``$DOCKER_HOST`` of a `podman system service` on a private socket (kfp's DockerRunner talks to it)."""
    if not shutil.which("podman"):
        _missing("podman is not installed")
    conf = REPO / "scripts" / "containers.conf"
    sock_dir = Path(tempfile.mkdtemp(prefix="climb-podman-"))
    sock = sock_dir / "podman.sock"
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    log = sock_dir / "service.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{sock}"], stdout=fh, stderr=fh, env=env
        )
    deadline = time.monotonic() + 30
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"podman system service did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.2)
    os.environ["CONTAINERS_CONF"] = str(conf)
    os.environ["DOCKER_HOST"] = f"unix://{sock}"
    try:
        yield f"unix://{sock}"
    finally:
        os.environ.pop("DOCKER_HOST", None)
        stop(proc)
        shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def component_image(podman_api) -> str:
    """The CPU component image: ``$CLIMB_TEST_IMAGE`` (built by .ci/run before the tests) or built here."""
    image = os.environ.get("CLIMB_TEST_IMAGE")
    if image:
        found = subprocess.run(["podman", "image", "exists", image], env=os.environ)
        if found.returncode == 0:
            return image
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "container_image.sh"), "localhost/climbflow:test"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        pytest.fail(f"building the component image failed:\n{proc.stderr[-4000:]}")
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL 15 server (Debian's package) on loopback with an `mlflow` database; yields its URI."""
    if not (PG_BIN / "initdb").exists():
        _missing("PostgreSQL (Debian package postgresql) is not installed")
    root = Path(tempfile.mkdtemp(prefix="climb-pg-", dir="/var/tmp"))
    data = root / "data"
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_pg:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(
        [*as_pg, str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    log = root / "postgres.log"
    subprocess.run(
        [
            *as_pg,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -h 127.0.0.1 -k {root}",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                *as_pg,
                str(PG_BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "mlflow",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(
            [*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_on_postgres(postgres, s3_server, tmp_path_factory):  # noqa: F811 - the imported fixture
    """A real `mlflow server` on PostgreSQL with artifacts proxied to S3 (as the k8s Deployment runs it)."""
    bucket = s3_server.make_bucket("climb-mlflow")
    root = tmp_path_factory.mktemp("mlflow-pg")
    with running_mlflow_server(postgres, f"s3://{bucket}/artifacts", root, s3_server.env()) as url:
        yield url


@contextlib.contextmanager
def new_pipeline_root() -> Iterator[Path]:
    """A KFP pipeline root: the one folder kfp mounts into every task container, writable by uid 10001."""
    root = Path(tempfile.mkdtemp(prefix="climb-kfp-root-", dir="/var/tmp"))
    os.chown(root, TASK_UID, TASK_UID) if os.geteuid() == 0 else root.chmod(0o777)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pipeline_root():
    with new_pipeline_root() as root:
        yield root
