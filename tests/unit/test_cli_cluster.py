"""`climb submit / schedule / runs` against a local HTTP server speaking the KFP v2beta1 REST API.

No Kubeflow Pipelines backend can run on this machine (it needs a Kubernetes cluster), so the test server
records every request and answers with the v2beta1 shapes that kfp.Client's generated API (kfp_server_api)
deserializes; the request bodies are checked against the same models. The commands run on a cluster-ready
params file (S3 workspace and sources, tracking server from the ConfigMap): the repository's params.yaml is
the local default, which submit / schedule refuse.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import typer
import yaml
from typer.testing import CliRunner

from climbflow.cli_cluster import cron6, redact, register
from climbflow.cluster_checks import cluster_problems

REPO = Path(__file__).resolve().parents[2]
API = "/apis/v2beta1"
TOKEN = "s3cr3t-token-value"
COOKIE = "authservice_session=c00kie-value"


class FakeKfp:
    """State + recorded requests of the fake backend."""

    def __init__(self):
        self.requests: list[dict] = []
        self.multi_user = False
        self.experiments = [{"experiment_id": "exp-1", "display_name": "climbflow", "namespace": ""}]
        self.recurring = [
            {"recurring_run_id": "rr-old", "display_name": "nightly", "experiment_id": "exp-1"},
            {"recurring_run_id": "rr-other", "display_name": "other", "experiment_id": "exp-1"},
        ]
        self.runs = [
            {
                "run_id": "run-a",
                "display_name": "first",
                "state": "SUCCEEDED",
                "created_at": "2026-01-01T00:00:00Z",
            },
            {
                "run_id": "run-b",
                "display_name": "second",
                "state": "FAILED",
                "created_at": "2026-01-02T00:00:00Z",
            },
        ]

    def handle(self, method: str, path: str, query: dict, body: dict | None) -> tuple[int, dict]:
        if (method, path) == ("GET", f"{API}/healthz"):
            return 200, {"multi_user": self.multi_user, "pipeline_store": "database"}
        if (method, path) == ("GET", f"{API}/experiments"):
            flt = json.loads(query.get("filter", ["{}"])[0] or "{}")
            wanted = [
                p.get("stringValue") for p in flt.get("predicates", []) if p.get("key") == "display_name"
            ]
            namespace = query.get("namespace", [""])[0]
            found = [
                e
                for e in self.experiments
                if (not wanted or e["display_name"] in wanted) and e.get("namespace", "") == namespace
            ]
            return 200, {"experiments": found, "total_size": len(found)} if found else {}
        if (method, path) == ("POST", f"{API}/experiments"):
            exp = {"experiment_id": f"exp-{len(self.experiments) + 1}", **body}
            self.experiments.append(exp)
            return 200, exp
        if (method, path) == ("POST", f"{API}/runs"):
            return 200, {"run_id": "run-new", "state": "PENDING", **body}
        if (method, path) == ("GET", f"{API}/runs"):
            return 200, {"runs": self.runs, "total_size": len(self.runs)}
        if (method, path) == ("GET", f"{API}/recurringruns"):
            return 200, {"recurringRuns": self.recurring, "total_size": len(self.recurring)}
        if method == "DELETE" and path.startswith(f"{API}/recurringruns/"):
            rr_id = path.rsplit("/", 1)[1]
            self.recurring = [r for r in self.recurring if r["recurring_run_id"] != rr_id]
            return 200, {}
        if (method, path) == ("POST", f"{API}/recurringruns"):
            rr = {"recurring_run_id": f"rr-{len(self.requests)}", "status": "ENABLED", **body}
            self.recurring.append(rr)
            return 200, rr
        return 404, {"error": f"no route {method} {path}", "code": 5}


@pytest.fixture
def kfp_server(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # kfp reads ~/.config/kfp/context.json
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    state = FakeKfp()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append(
                {
                    "method": self.command,
                    "path": url.path,
                    "query": parse_qs(url.query),
                    "body": body,
                    "auth": self.headers.get("Authorization"),
                    "cookie": self.headers.get("Cookie"),
                }
            )
            code, payload = state.handle(self.command, url.path, parse_qs(url.query), body)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def cluster_params(tmp_path, **overrides) -> Path:
    """The repository's params.yaml made cluster-ready: S3 workspace and dataset sources (tracking: the
    MLFLOW_TRACKING_URI of the ConfigMap, as in the repository's), plus dotted ``overrides``."""
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["workspace"]["root"] = "s3://climb-data/workspace"
    for name, ds in data["datasets"].items():
        ds["source"] = f"s3://climb-raw/{name}"
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[leaf] = value
    path = tmp_path / f"params-{len(list(tmp_path.glob('params-*')))}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


_PARAMS: list[Path] = []  # this test's cluster-ready params file (what _climb passes unless told)


@pytest.fixture(autouse=True)
def _cluster_ready_params(tmp_path):
    _PARAMS[:] = [cluster_params(tmp_path)]
    yield
    _PARAMS.clear()


def _climb(*args, params: Path | None = None):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, [*args, "--params", str(params or _PARAMS[0])])


@pytest.fixture
def client_calls(monkeypatch):
    """Keyword arguments of every kfp.Client call that creates something (the calls still reach the fake)."""
    import kfp

    calls: dict[str, list[dict]] = {}
    methods = ("__init__", "create_run_from_pipeline_package", "create_recurring_run", "create_experiment")
    for method in methods:
        original = getattr(kfp.Client, method)

        def spy(self, *args, _original=original, _method=method, **kwargs):
            calls.setdefault(_method, []).append(kwargs)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(kfp.Client, method, spy)
    return calls


def _calls(state):
    return [(r["method"], r["path"]) for r in state.requests]


def test_submit_creates_a_run_with_the_compiled_spec_and_ui_parameters(kfp_server):
    host, state = kfp_server
    result = _climb("submit", "--host", host, "--param", "pretrain_epochs=3", "--param", "datasets=[ptbxl]")
    assert result.exit_code == 0, result.output
    assert "run-new" in result.output
    assert ("GET", f"{API}/healthz") == _calls(state)[0]
    post = next(r for r in state.requests if (r["method"], r["path"]) == ("POST", f"{API}/runs"))
    body = post["body"]
    from kfp_server_api.models import V2beta1Run

    assert set(body) <= set(V2beta1Run.attribute_map.values())
    assert body["experiment_id"] == "exp-1"
    # with a platform spec, kfp sends {"pipeline_spec": ..., "platform_spec": ...} (node pools, GPUs, Secrets)
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "climb-training"
    executors = body["pipeline_spec"]["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"][
        "executors"
    ]
    assert executors["exec-finetune"]["nodeSelector"]["labels"] == {"nvidia.com/gpu.present": "true"}
    assert body["runtime_config"]["parameters"] == {"pretrain_epochs": 3, "datasets": ["ptbxl"]}
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in state.requests)
    assert TOKEN not in result.output


def test_submit_refuses_an_unknown_parameter_before_calling_the_backend(kfp_server):
    host, state = kfp_server
    result = _climb("submit", "--host", host, "--param", "epochz=3")
    assert result.exit_code == 2
    assert "epochz" in result.output and "pretrain_epochs" in result.output
    assert state.requests == []


def test_schedule_replaces_the_recurring_run_of_that_name_only(kfp_server):
    host, state = kfp_server
    result = _climb("schedule", "--host", host, "--cron", "0 3 * * 1", "--name", "nightly")
    assert result.exit_code == 0, result.output
    calls = _calls(state)
    assert ("DELETE", f"{API}/recurringruns/rr-old") in calls
    assert ("DELETE", f"{API}/recurringruns/rr-other") not in calls
    assert calls.index(("DELETE", f"{API}/recurringruns/rr-old")) < calls.index(
        ("POST", f"{API}/recurringruns")
    )
    body = next(
        r["body"] for r in state.requests if (r["method"], r["path"]) == ("POST", f"{API}/recurringruns")
    )
    from kfp_server_api.models import V2beta1RecurringRun

    assert set(body) <= set(V2beta1RecurringRun.attribute_map.values())
    assert body["display_name"] == "nightly"
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * 1"
    assert body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == "climb-retraining"
    assert body["max_concurrency"] == "1" or body["max_concurrency"] == 1
    # idempotent: a second schedule replaces the one just created, leaving exactly one of that name
    assert _climb("schedule", "--host", host, "--cron", "0 3 * * 1", "--name", "nightly").exit_code == 0
    assert [r["display_name"] for r in state.recurring].count("nightly") == 1


def test_runs_lists_status(kfp_server):
    host, state = kfp_server
    result = _climb_runs(host)
    assert result.exit_code == 0, result.output
    assert "run-a" in result.output and "SUCCEEDED" in result.output and "FAILED" in result.output
    listed = next(r for r in state.requests if (r["method"], r["path"]) == ("GET", f"{API}/runs"))
    assert listed["query"]["sort_by"] == ["created_at desc"]


def _climb_runs(host):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, ["runs", "--host", host])


def test_unreachable_backend_is_one_line_without_the_token(monkeypatch, tmp_path):
    import socket

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    monkeypatch.setattr("time.sleep", lambda s: None)  # kfp retries healthz 5 times with sleeps
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _climb_runs(f"http://user:{TOKEN}@127.0.0.1:{port}")
    assert result.exit_code == 1
    assert "cannot reach Kubeflow Pipelines" in result.output
    assert TOKEN not in result.output


def test_redact_and_cron():
    assert redact("https://me:pw@kf.example/x") == "https://***@kf.example/x"
    assert cron6("0 3 * * 1") == "0 0 3 * * 1"
    assert cron6("5 0 3 * * 1") == "5 0 3 * * 1"
    with pytest.raises(typer.Exit):
        cron6("daily")


def test_compiled_parameters_are_what_the_ui_shows():
    spec = next(yaml.safe_load_all((REPO / "pipelines" / "compiled" / "retraining.yaml").read_text()))
    shown = set(spec["root"]["inputDefinitions"]["parameters"])
    assert {"force", "overrides", "pretrain_epochs", "datasets"} <= shown
    # the recurring run's GPUs come from params.yaml (docs/cluster.md section 7): not offered as parameters
    assert not {"gpu_count", "gpu_type", "params_json"} & shown


def _posted(state, path):
    return next(r for r in state.requests if (r["method"], r["path"]) == ("POST", f"{API}/{path}"))


def _task_caching(pipeline_spec: dict) -> dict[str, bool]:
    """Container task -> cache enabled, over the root DAG and every sub-DAG of a sent pipeline spec."""
    out = {}
    for comp in [pipeline_spec["root"], *pipeline_spec["components"].values()]:
        for name, task in comp.get("dag", {}).get("tasks", {}).items():
            if "executorLabel" in pipeline_spec["components"][task["componentRef"]["name"]]:
                out[name] = bool(task.get("cachingOptions", {}).get("enableCache"))
    return out


def test_submit_and_schedule_turn_the_kfp_cache_off_by_default(kfp_server, client_calls):
    """KFP's cache key (inputs + image + command) cannot see new data behind the same inputs."""
    host, state = kfp_server
    assert _climb("submit", "--host", host).exit_code == 0
    assert _climb("schedule", "--host", host, "--cron", "0 3 * * 1").exit_code == 0
    assert client_calls["create_run_from_pipeline_package"][0]["enable_caching"] is False
    assert client_calls["create_recurring_run"][0]["enable_caching"] is False
    for path in ("runs", "recurringruns"):
        caching = _task_caching(_posted(state, path)["body"]["pipeline_spec"]["pipeline_spec"])
        assert caching and not any(caching.values())


def test_enable_caching_reaches_the_tasks_inside_loops_too(kfp_server, client_calls):
    host, state = kfp_server
    assert _climb("submit", "--host", host, "--enable-caching").exit_code == 0
    assert client_calls["create_run_from_pipeline_package"][0]["enable_caching"] is True
    caching = _task_caching(_posted(state, "runs")["body"]["pipeline_spec"]["pipeline_spec"])
    assert {"ingest", "validate", "finetune"} <= set(caching) and all(caching.values())


def test_namespace_service_account_and_pipeline_root_reach_the_backend(kfp_server, client_calls):
    host, state = kfp_server
    result = _climb(
        "submit", "--host", host, "--experiment", "team-exp", "--namespace", "team-a",
        "--service-account", "climb-runner", "--pipeline-root", "s3://climb-kfp/root",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert client_calls["__init__"][0]["namespace"] == "team-a"
    created = _posted(state, "experiments")  # multi-user Kubeflow refuses an experiment without a namespace
    assert created["body"] == {"display_name": "team-exp", "namespace": "team-a"}
    body = _posted(state, "runs")["body"]
    assert body["experiment_id"] == "exp-2"
    assert body["service_account"] == "climb-runner"
    assert body["runtime_config"]["pipeline_root"] == "s3://climb-kfp/root"
    assert "namespace team-a" in result.output


def test_schedule_takes_namespace_service_account_and_pipeline_root_from_params(kfp_server, tmp_path):
    host, state = kfp_server
    params = cluster_params(
        tmp_path,
        **{
            "cluster.namespace": "team-b",
            "cluster.service_account": "climb-sa",
            "cluster.pipeline_root": "s3://climb-kfp/b",
        },
    )
    result = _climb("schedule", "--host", host, "--cron", "0 3 * * 1", params=params)
    assert result.exit_code == 0, result.output
    listed = next(r for r in state.requests if (r["method"], r["path"]) == ("GET", f"{API}/experiments"))
    assert listed["query"]["namespace"] == ["team-b"]
    assert _posted(state, "experiments")["body"]["namespace"] == "team-b"
    body = _posted(state, "recurringruns")["body"]
    assert body["experiment_id"] == "exp-2"
    assert body["service_account"] == "climb-sa"
    assert body["runtime_config"]["pipeline_root"] == "s3://climb-kfp/b"


def test_session_cookie_from_the_environment(kfp_server, monkeypatch):
    """Multi-user Kubeflow behind Dex / oauth2-proxy: the session cookie from KFP_COOKIES, never an option."""
    host, state = kfp_server
    monkeypatch.delenv("KFP_TOKEN")
    monkeypatch.setenv("KFP_COOKIES", COOKIE)
    result = _climb("submit", "--host", host)
    assert result.exit_code == 0, result.output
    assert state.requests and all(r["cookie"] == COOKIE for r in state.requests)
    assert all(r["auth"] is None for r in state.requests)
    assert redact(f"failed with {COOKIE}") == "failed with ***"


def test_multi_user_backend_without_a_namespace_is_refused(kfp_server):
    host, state = kfp_server
    state.multi_user = True
    result = _climb("submit", "--host", host)
    assert result.exit_code == 2
    assert "multi-user" in result.output and "--namespace" in result.output
    assert not any(r["method"] == "POST" for r in state.requests)
    assert _climb("submit", "--host", host, "--namespace", "team-a").exit_code == 0


@pytest.mark.parametrize("command", [["submit"], ["schedule", "--cron", "0 3 * * 1"]])
def test_a_local_workspace_is_refused_before_calling_the_backend(kfp_server, command):
    host, state = kfp_server
    result = _climb(*command, "--host", host, params=REPO / "params.yaml")  # the local default
    assert result.exit_code == 2
    assert "workspace.root" in result.output and "cluster.data_pvc" in result.output
    assert "datasets.ptbxl.source" in result.output
    assert state.requests == []


def _params(**overrides):
    """This test's cluster-ready params with dotted ``overrides``."""
    from climbflow.config import load, parse

    data = load(_PARAMS[0]).to_dict()
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[leaf] = value
    return parse(data)


def test_cluster_ready_params_have_no_problems():
    assert cluster_problems(_params()) == []
    assert cluster_problems(_params(**{"workspace.tracking_uri": "https://mlflow.example"})) == []


def test_workspace_on_the_data_pvc_is_shared_only_with_the_pvc_set():
    on_mount = {"workspace.root": "/data/climb/workspace"}
    assert cluster_problems(_params(**on_mount, **{"cluster.data_pvc": "climb-data"})) == []
    (problem,) = cluster_problems(_params(**on_mount))
    assert problem.startswith("workspace.root") and "cluster.data_pvc is null" in problem
    for root in ("workspace", "/tmp/ws", "/database", "/data/../etc"):
        (problem,) = cluster_problems(_params(**{"workspace.root": root, "cluster.data_pvc": "climb-data"}))
        assert "workspace.root" in problem and "/data" in problem, root


def test_tracking_must_reach_a_server():
    (problem,) = cluster_problems(_params(**{"workspace.tracking_uri": "sqlite:///x/mlflow.db"}))
    assert "workspace.tracking_uri" in problem and "MLFLOW_TRACKING_URI" in problem
    keys = ["AWS_ENDPOINT_URL"]
    (problem,) = cluster_problems(_params(**{"cluster.config_map_keys": keys}))
    assert "workspace.tracking_uri" in problem and "cluster.config_map_keys" in problem
    (problem,) = cluster_problems(_params(**{"cluster.config_map": None}))
    assert "cluster.config_map" in problem


def test_other_pod_local_locations_are_named():
    problems = cluster_problems(
        _params(**{"workspace.dvc_remote": "/tmp/remote", "workspace.artifact_location": "file:///tmp/a"})
    )
    assert [p.split(" = ")[0] for p in problems] == ["workspace.artifact_location", "workspace.dvc_remote"]
    ok = {"workspace.dvc_remote": "s3://climb-data/dvc", "workspace.artifact_location": "gs://bucket/a"}
    assert cluster_problems(_params(**ok)) == []
    (problem,) = cluster_problems(_params(**{"datasets.ptbxl.source": "workspace/sample/ptbxl"}))
    assert problem.startswith("datasets.ptbxl.source")
    assert cluster_problems(_params(**{"datasets.chapman.source": "/local/chapman"})) == []  # disabled


def test_compile_warning_names_the_keys(capsys):
    from climbflow.cli_cluster import warn_unshared
    from climbflow.config import load

    warn_unshared(load(REPO / "params.yaml"))
    err = capsys.readouterr().err
    assert "warning" in err and "workspace.root" in err and "refuse" in err
    warn_unshared(_params())
    assert capsys.readouterr().err == ""
