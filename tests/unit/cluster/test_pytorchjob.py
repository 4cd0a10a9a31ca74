"""Multi-node pretrain: the PyTorchJob manifest and the launcher's wire contract with the Kubernetes API.

No Kubernetes API server or Training Operator can run on this machine, so (1) the rendered manifest is checked
against the kubeflow.org/v1 PyTorchJob CRD schema (the fields below are transcribed from the Training
Operator's published CRD, pytorchjobs.kubeflow.org) and its pod template against the Kubernetes 1.30 OpenAPI
schema, and (2) the launcher talks to a local HTTP server that records the requests and answers like the API
server (create -> 201, get -> the job with status conditions, 409 for an existing job, pod list + log).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest

from climbflow.cluster.pytorchjob import JobFailed, distributed_params, job_name, render, run_job
from climbflow.config import load

REPO = Path(__file__).resolve().parents[3]
JOBS = "/apis/kubeflow.org/v1/namespaces/climbflow/pytorchjobs"

_REPLICA = {
    "type": "object",
    "required": ["template"],
    "properties": {
        "replicas": {"type": "integer", "format": "int32"},
        "restartPolicy": {"type": "string", "enum": ["Always", "OnFailure", "Never", "ExitCode"]},
        "template": {
            "type": "object",
            "properties": {"metadata": {"type": "object"}, "spec": {"type": "object"}},
        },
    },
    "additionalProperties": False,
}
PYTORCHJOB_SCHEMA = {  # kubeflow.org/v1 PyTorchJob (Training Operator v1.7/v1.8 CRD), the fields we use
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "kubeflow.org/v1"},
        "kind": {"const": "PyTorchJob"},
        "metadata": {
            "type": "object",
            "required": ["name", "namespace"],
            "properties": {"name": {"type": "string", "pattern": "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"}},
        },
        "spec": {
            "type": "object",
            "required": ["pytorchReplicaSpecs"],
            "additionalProperties": False,
            "properties": {
                "elasticPolicy": {"type": "object"},
                "nprocPerNode": {"type": "string"},
                "runPolicy": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "activeDeadlineSeconds": {"type": "integer"},
                        "backoffLimit": {"type": "integer"},
                        "cleanPodPolicy": {"type": "string", "enum": ["All", "Running", "None"]},
                        "managedBy": {"type": "string"},
                        "schedulingPolicy": {"type": "object"},
                        "suspend": {"type": "boolean"},
                        "ttlSecondsAfterFinished": {"type": "integer"},
                    },
                },
                "pytorchReplicaSpecs": {
                    "type": "object",
                    "required": ["Master"],
                    "properties": {"Master": _REPLICA, "Worker": _REPLICA},
                    "additionalProperties": False,
                },
            },
        },
    },
}


def _params(nodes=3, gpus=2, **cluster):
    data = load(REPO / "params.yaml").to_dict()
    data["cluster"]["pytorchjob"].update({"enabled": True, "nodes": nodes, "gpus_per_node": gpus})
    data["cluster"].update(cluster)
    return distributed_params(data)


def test_manifest_validates_against_the_crd_and_pod_schemas():
    import kubernetes_validate

    params = _params(data_pvc="climb-data")
    manifest = render(params, "ecg", ["s3://b/std/ptbxl/1", "s3://b/std/cinc/2"])
    jsonschema.validate(manifest, PYTORCHJOB_SCHEMA)
    specs = manifest["spec"]["pytorchReplicaSpecs"]
    assert specs["Master"]["replicas"] == 1 and specs["Worker"]["replicas"] == 2
    assert manifest["spec"]["nprocPerNode"] == "2"
    for role in ("Master", "Worker"):
        template = specs[role]["template"]
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template},
            "1.30",
            strict=True,
        )
        pod = template["spec"]
        container = pod["containers"][0]
        assert container["name"] == "pytorch"  # the operator injects its env into this container
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
        assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}} in pod["volumes"]
        assert {"name": "data", "mountPath": "/data"} in container["volumeMounts"]
        script = container["command"][-1]
        assert "--nnodes=3 --nproc-per-node=2" in script and "climb stage pretrain" in script
        assert "--standardized s3://b/std/cinc/2" in script
        env = {e["name"]: e for e in container["env"]}
        assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "climbflow-s3"
        job_params = json.loads(env["CLIMB_PARAMS_JSON"]["value"])
        assert job_params["pretrain"] | {} and job_params["pretrain"]["num_nodes"] == 3
        assert (job_params["pretrain"]["devices"], job_params["pretrain"]["strategy"]) == (2, "ddp")


def test_single_node_job_has_no_workers_and_names_are_stable():
    params = _params(nodes=1, gpus=0)
    manifest = render(params, "image2d", ["/data/a"])
    jsonschema.validate(manifest, PYTORCHJOB_SCHEMA)
    assert "Worker" not in manifest["spec"]["pytorchReplicaSpecs"]
    pod = manifest["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert "tolerations" not in pod and "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]
    assert job_name("image2d", params, ["/data/a"]) == job_name("image2d", params, ["/data/a"])
    assert job_name("image2d", params, ["/data/a"]) != job_name("image2d", params, ["/data/b"])


class FakeApiServer:
    def __init__(self, states, create_status=201):
        self.states, self.create_status, self.requests = list(states), create_status, []

    def handle(self, method, path, body):
        if method == "POST" and path == JOBS:
            return self.create_status, body if self.create_status < 300 else {
                "kind": "Status",
                "code": self.create_status,
            }
        if method == "GET" and path.startswith(JOBS + "/"):
            state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            conditions = [{"type": state, "status": "True", "message": f"job is {state}"}] if state else []
            return 200, {
                "apiVersion": "kubeflow.org/v1",
                "kind": "PyTorchJob",
                "status": {"conditions": conditions},
            }
        if method == "DELETE" and path.startswith(JOBS + "/"):
            return 200, {"kind": "Status", "status": "Success"}
        if method == "GET" and path == "/api/v1/namespaces/climbflow/pods":
            return 200, {
                "kind": "PodList",
                "apiVersion": "v1",
                "items": [{"metadata": {"name": "job-master-0"}}],
            }
        if method == "GET" and path.endswith("/pods/job-master-0/log"):
            return 200, "RuntimeError: NCCL timeout"
        return 404, {"kind": "Status", "code": 404}


@pytest.fixture
def api(request):
    from kubernetes import client

    fake = FakeApiServer(*request.param)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            path, _, query = self.path.partition("?")
            fake.requests.append((self.command, path, query, body))
            code, payload = fake.handle(self.command, path, body)
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cfg = client.Configuration(host=f"http://127.0.0.1:{server.server_address[1]}")
    yield client.ApiClient(cfg), fake
    server.shutdown()
    server.server_close()


class _Clock:
    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _manifest():
    return render(_params(nodes=2, gpus=1), "ecg", ["/data/std/ptbxl"])


@pytest.mark.parametrize("api", [(["", "Created", "Running", "Succeeded"],)], indirect=True)
def test_creates_then_polls_until_succeeded(api):
    client, fake = api
    manifest = _manifest()
    run_job(manifest, client, timeout_seconds=600, poll_seconds=5, clock=_Clock())
    methods = [(m, p) for m, p, _, _ in fake.requests]
    assert methods[0] == ("POST", JOBS)
    assert fake.requests[0][3]["metadata"]["name"] == manifest["metadata"]["name"]
    assert methods[1:] == [("GET", f"{JOBS}/{manifest['metadata']['name']}")] * 4


@pytest.mark.parametrize("api", [(["Running", "Succeeded"], 409)], indirect=True)
def test_an_existing_job_of_that_name_is_adopted_not_duplicated(api):
    client, fake = api
    run_job(_manifest(), client, poll_seconds=1, clock=_Clock())
    assert [m for m, *_ in fake.requests].count("POST") == 1 and fake.requests[-1][0] == "GET"


@pytest.mark.parametrize("api", [(["Running", "Failed"],)], indirect=True)
def test_failure_reports_the_condition_and_master_log(api):
    client, fake = api
    with pytest.raises(JobFailed, match="job is Failed") as exc:
        run_job(_manifest(), client, poll_seconds=1, clock=_Clock())
    assert "NCCL timeout" in str(exc.value)
    pods = next(q for m, p, q, _ in fake.requests if p.endswith("/pods"))
    assert "training.kubeflow.org%2Freplica-type%3Dmaster" in pods or "replica-type=master" in pods


@pytest.mark.parametrize("api", [(["Running"],)], indirect=True)
def test_timeout_deletes_the_job(api):
    client, fake = api
    with pytest.raises(JobFailed, match="not finished after 30 s"):
        run_job(_manifest(), client, timeout_seconds=30, poll_seconds=10, clock=_Clock())
    assert fake.requests[-1][0] == "DELETE"


@pytest.mark.parametrize("api", [(["Running"], 404)], indirect=True)
def test_missing_crd_is_named(api):
    client, _ = api
    with pytest.raises(JobFailed, match="Training Operator installed"):
        run_job(_manifest(), client, clock=_Clock())
