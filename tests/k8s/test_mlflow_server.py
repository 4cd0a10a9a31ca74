"""The MLflow server exactly as the rendered Deployment starts it: the container's command, args and env are
taken from `kubectl kustomize k8s/overlays/<env>` and resolved as the kubelet does (envFrom the rendered
ConfigMap, `$(VAR)` expansion, the downward-API namespace, Secret keys and the Secret volume), then `mlflow server`
from this venv runs on loopback with only what cannot exist here replaced: --host 127.0.0.1, a free --port,
--workers 1, a sqlite backend / auth database in tmp_path for the Postgres URIs of the Secrets.

Checks: in-cluster Host headers (`mlflow:5000`, `mlflow.<namespace>.svc.cluster.local:5000`) reach the API
(MLflow >= 3.5 answers 403 "Invalid Host header" to names it does not know, while /health stays 200), a foreign
Host is still refused, and the basic-auth app answers 401 without / with wrong credentials and 200 with the
pipeline's MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.k8s.render import (
    K8S,
    by_kind,
    command_line,
    container_env,
    kustomize,
    local_path_env,
    materialize_volumes,
    one,
    option_value,
    remap_paths,
    replace_option,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

OVERLAYS = {"dev": "climbflow-dev", "prod": "climbflow"}
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=5"
START_TIMEOUT_S = 120


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, overlay: str, port: int, admin: tuple[str, str], argv: list[str], env: dict[str, str]):
        self.overlay, self.namespace, self.port = overlay, OVERLAYS[overlay], port
        self.admin, self.argv, self.env = admin, argv, env

    def request(
        self,
        method: str,
        path: str,
        *,
        host: str | None = None,
        auth: tuple[str, str] | None = None,
        body: dict | None = None,
    ) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Host": host or f"127.0.0.1:{self.port}"}
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        finally:
            conn.close()


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and its uvicorn workers (its own process group, started by this test)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module", params=list(OVERLAYS))
def server(request, tmp_path_factory):
    overlay = request.param
    root = tmp_path_factory.mktemp(f"mlflow-{overlay}")
    objs = kustomize(K8S / "overlays" / overlay)
    deployment = one(objs, "Deployment", "mlflow")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    admin = ("admin", secrets.token_urlsafe(18))
    # what the operator puts into the Secrets (docs/cluster.md), with sqlite instead of Postgres
    auth_ini = (
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{root / 'auth.db'}\n"
        f"admin_username = {admin[0]}\n"
        f"admin_password = {admin[1]}\n"
    )
    secret_data = {
        "climbflow-mlflow-db": {"BACKEND_STORE_URI": f"sqlite:///{root / 'mlflow.db'}"},
        "climbflow-mlflow-auth": {
            "basic_auth.ini": auth_ini,
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        },
        "climbflow-s3": {"AWS_ACCESS_KEY_ID": "test-key-id", "AWS_SECRET_ACCESS_KEY": secrets.token_hex(8)},
    }
    config_maps = {c["metadata"]["name"]: c.get("data", {}) for c in by_kind(objs, "ConfigMap")}
    env = container_env(
        pod,
        container,
        namespace=deployment["metadata"]["namespace"],
        config_maps=config_maps,
        secrets=secret_data,
    )
    argv = command_line(container, env)
    mounts = materialize_volumes(pod, container, root / "volumes", secret_data)
    env, argv = remap_paths(env, argv, mounts)
    assert option_value(argv, "--app-name") == "basic-auth", f"the Deployment starts no auth app: {argv}"
    port = _free_port()
    argv = replace_option(argv, "--host", "127.0.0.1")
    argv = replace_option(argv, "--port", str(port))
    argv = replace_option(argv, "--workers", "1")
    env = local_path_env(env) | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = root / "mlflow.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            argv, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True
        )
    srv = Server(overlay, port, admin, argv, env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"{overlay}: mlflow server exited with {proc.returncode}:\n{log.read_text()[-4000:]}"
                )
            try:
                if srv.request("GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{overlay}: no /health after {START_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield srv
    finally:
        _stop(proc)


def test_in_cluster_host_headers_reach_the_api(server):
    ns = server.namespace
    for host in (
        "mlflow:5000",
        f"mlflow.{ns}.svc.cluster.local:5000",
        f"mlflow.{ns}.svc:5000",
        f"mlflow.{ns}:5000",
    ):
        status, body = server.request("GET", SEARCH, host=host, auth=server.admin)
        assert status != 403, f"{server.overlay}: Host {host} refused: {status} {body[:200]}"
        assert status == 200, f"{server.overlay}: Host {host}: {status} {body[:200]}"


def test_a_foreign_host_header_is_still_refused(server):
    """The host check is on (the test above could fail): DNS-rebinding names stay out."""
    status, body = server.request("GET", SEARCH, host="attacker.example:5000", auth=server.admin)
    assert status == 403, f"{server.overlay}: foreign Host answered {status} (host validation off?)"
    other = "climbflow" if server.namespace != "climbflow" else "climbflow-dev"
    status, _ = server.request(
        "GET", SEARCH, host=f"mlflow.{other}.svc.cluster.local:5000", auth=server.admin
    )
    assert status == 403, f"{server.overlay}: the other overlay's service name is accepted"


def test_basic_auth_checks_the_clients_credentials(server):
    host = f"mlflow.{server.namespace}.svc.cluster.local:5000"
    status, _ = server.request("GET", SEARCH, host=host)
    assert status == 401, f"{server.overlay}: unauthenticated API call answered {status}, not 401"
    status, _ = server.request("GET", SEARCH, host=host, auth=(server.admin[0], "wrong-" + server.admin[1]))
    assert status == 401, f"{server.overlay}: wrong password answered {status}"
    # the pipeline's user, created by the admin as docs/cluster.md says; its pods send these credentials
    user = ("climbflow-pipeline", secrets.token_urlsafe(18))
    status, body = server.request(
        "POST",
        "/api/2.0/mlflow/users/create",
        host=host,
        auth=server.admin,
        body={"username": user[0], "password": user[1]},
    )
    assert status == 200, f"{server.overlay}: admin cannot create the pipeline user: {status} {body[:300]}"
    status, _ = server.request("GET", SEARCH, host=host, auth=user)
    assert status == 200, f"{server.overlay}: the pipeline user's authenticated call answered {status}"
    status, body = server.request(
        "POST", "/api/2.0/mlflow/experiments/create", host=host, auth=user, body={"name": "climb-auth-check"}
    )
    assert status == 200, (
        f"{server.overlay}: the pipeline user cannot create an experiment: {status} {body[:300]}"
    )


def test_mlflow_client_uses_the_tracking_credentials_env(server, monkeypatch):
    """The env the pipeline pods get from Secret climbflow-mlflow (MLFLOW_TRACKING_USERNAME / _PASSWORD)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = f"http://127.0.0.1:{server.port}"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    with pytest.raises(MlflowException, match="401|Unauthorized|credentials"):
        MlflowClient(tracking_uri=uri).search_experiments()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", server.admin[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", server.admin[1])
    assert MlflowClient(tracking_uri=uri).search_experiments() is not None


def test_postgres_backend_uri_has_a_driver():
    """The Deployment's BACKEND_STORE_URI is postgresql://...: SQLAlchemy must find the driver it maps that
    scheme to (psycopg 3 for SQLAlchemy 2.1, psycopg2 before) among the installed dependencies, or the server
    exits at start. create_engine imports the DBAPI module without connecting."""
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine("postgresql://user:pw@127.0.0.1:1/mlflow")
    except ImportError as exc:
        pytest.fail(f"no Postgres driver for postgresql:// in the dependencies: {exc}")
    assert engine.dialect.driver in {"psycopg", "psycopg2"} and engine.dialect.dbapi is not None
    engine.dispose()


def test_server_flags_come_from_the_manifest(server):
    """The flags the test replaced are only host/port/workers; the rest is the Deployment's."""
    assert option_value(server.argv, "--app-name") == "basic-auth"
    assert option_value(server.argv, "--allowed-hosts") == server.env["MLFLOW_SERVER_ALLOWED_HOSTS"]
    assert Path(server.env["MLFLOW_AUTH_CONFIG_PATH"]).is_file()
    assert option_value(server.argv, "--backend-store-uri").startswith("sqlite:///")
