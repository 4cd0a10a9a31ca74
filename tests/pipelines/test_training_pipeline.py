"""The compiled pipelines (the YAML users upload to the Kubeflow UI): structure, parameters, placement, golden."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from climbflow.config import load
from climbflow.pipeline_runner import PIPELINES, compile_training
from tests.pipelines.spec import training_dag

REPO = Path(__file__).resolve().parents[2]
_CACHE: dict[str, tuple[str, list]] = {}


def _compiled(tmp_path, name: str = "training") -> tuple[dict, dict]:
    """(pipeline spec, kubernetes platform executors) of a fresh compile."""
    if name not in _CACHE:
        text = compile_training(load(REPO / "params.yaml"), tmp_path / f"{name}.yaml", name).read_text()
        _CACHE[name] = (text, list(yaml.safe_load_all(text)))
    docs = _CACHE[name][1]
    return docs[0], docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def _executor_of(spec: dict) -> dict[str, str]:
    """Task display name -> executor label, over the root DAG and every sub-DAG."""
    out = {}
    for comp in [spec["root"], *spec["components"].values()]:
        for task in comp.get("dag", {}).get("tasks", {}).values():
            ref = spec["components"][task["componentRef"]["name"]]
            if "executorLabel" in ref:
                out[task["taskInfo"]["name"]] = ref["executorLabel"]
    return out


def test_compiles_with_the_stage_chain(tmp_path):
    spec, _ = _compiled(tmp_path)
    assert spec["pipelineInfo"]["name"] == "climb-training"
    root = training_dag(spec)
    loop = next(t for name, t in root.items() if name.startswith("for-loop"))
    inner = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    # one standardize task per dataset (its ranges in a process pool); the fan-out is an experimental opt-in
    # (cluster.standardize_fanout, tests/pipelines/test_standardize_fanout.py)
    assert set(inner) == {"ingest", "validate", "standardize"}
    assert inner["validate"]["dependentTasks"] == ["ingest"]
    assert sorted(inner["standardize"]["dependentTasks"]) == ["ingest", "validate"]
    names = {t["taskInfo"]["name"] for t in root.values()}
    assert {"configure", "pretrain ecg", "pretrain image2d", "finetune ptbxl", "evaluate ptbxl"} <= names
    assert {"finetune chexpert", "evaluate chexpert"} <= names


def test_parameters_editable_in_the_ui_default_to_params_yaml(tmp_path):
    """The UI's run form: a handful of typed parameters; the full params are a constant of the YAML."""
    spec, _ = _compiled(tmp_path)
    params = load(REPO / "params.yaml")
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert set(inputs) == {
        "tracking_json", "datasets", "pretrain_epochs", "finetune_epochs",
        "batch_size", "gpu_count", "gpu_type", "overrides",
    }  # fmt: skip
    assert inputs["datasets"]["defaultValue"] == ["ptbxl", "chexpert"]
    assert inputs["pretrain_epochs"]["defaultValue"] == params.pretrain.epochs
    assert inputs["gpu_count"]["defaultValue"] == params.cluster.gpu_count
    assert inputs["gpu_type"]["defaultValue"] == params.cluster.accelerator_type
    configure = training_dag(spec)["configure"]["inputs"]["parameters"]
    constant = json.loads(configure["params_json"]["runtimeValue"]["constant"])
    assert constant == params.to_dict()
    # through the exit handler's DAG input to the run's parameter
    assert configure["gpu_count"]["componentInputParameter"] == "pipelinechannel--gpu_count"
    assert configure["gpu_type"]["componentInputParameter"] == "pipelinechannel--gpu_type"


@pytest.mark.parametrize("name", PIPELINES)
def test_the_params_json_is_no_pipeline_parameter(tmp_path, name):
    spec, _ = _compiled(tmp_path, name)
    assert "params_json" not in spec["root"]["inputDefinitions"]["parameters"]
    assert {"overrides"} <= set(spec["root"]["inputDefinitions"]["parameters"])


def _tasks(spec: dict) -> dict[str, dict]:
    """Container tasks (display name -> task spec) over the root DAG and every sub-DAG."""
    out = {}
    for comp in [spec["root"], *spec["components"].values()]:
        for task in comp.get("dag", {}).get("tasks", {}).values():
            if "executorLabel" in spec["components"][task["componentRef"]["name"]]:
                out[task["taskInfo"]["name"]] = task
    return out


@pytest.mark.parametrize("name", PIPELINES)
def test_no_task_uses_the_kfp_cache(tmp_path, name):
    """KFP's cache key (inputs + image + command) cannot see new data: a recurring run would reuse stale
    configure / plan / ingest / promote results forever. The stages cache themselves by content."""
    spec, _ = _compiled(tmp_path, name)
    tasks = _tasks(spec)
    assert tasks
    cached = [t for t, task in tasks.items() if task.get("cachingOptions", {}).get("enableCache")]
    assert cached == []


@pytest.mark.parametrize("name", PIPELINES)
def test_every_task_runs_as_the_non_root_image_user(tmp_path, name):
    """Restricted Pod Security: uid/gid 10001 (docker/Dockerfile's USER), runAsNonRoot. The KFP backend
    (>= 2.16) adds allowPrivilegeEscalation=false, drop ALL capabilities and seccomp RuntimeDefault."""
    spec, platform = _compiled(tmp_path, name)
    labels = set(_executor_of(spec).values())
    assert labels == set(spec["deploymentSpec"]["executors"])
    for label in labels:
        context = platform[label]["securityContext"]
        assert {k: str(v) for k, v in context.items()} == {
            "runAsUser": "10001",
            "runAsGroup": "10001",
            "runAsNonRoot": "True",
        }, label


def test_components_use_our_images_and_never_pip_install(tmp_path):
    spec, _ = _compiled(tmp_path)
    cluster = load(REPO / "params.yaml").cluster
    executors = spec["deploymentSpec"]["executors"]
    for label, ex in executors.items():
        container = ex["container"]
        gpu = "accelerator" in (container.get("resources") or {})
        assert container["image"] == (cluster.gpu_image if gpu else cluster.image), label
        assert "pip install" not in " ".join(container["command"])


@pytest.mark.parametrize("name", PIPELINES)
def test_gpu_tasks_land_on_the_gpu_pool_and_cpu_tasks_do_not(tmp_path, name):
    spec, platform = _compiled(tmp_path, name)
    cluster = load(REPO / "params.yaml").cluster
    by_task = _executor_of(spec)
    resources = {
        label: ex["container"].get("resources", {})
        for label, ex in spec["deploymentSpec"]["executors"].items()
    }
    gpu_prefixes = ("pretrain", "finetune", "evaluate")
    assert by_task
    for task, label in by_task.items():
        k8s = platform[label]
        assert {s["secretName"] for s in k8s["secretAsEnv"]} == {cluster.s3_secret, cluster.mlflow_secret}
        if task.startswith(gpu_prefixes):
            assert k8s["nodeSelector"]["labels"] == cluster.gpu_node_selector, task
            assert k8s["tolerations"] == [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ]
            # a run parameter on the UI's pipelines; the recurring retraining takes params.yaml's (see
            # test_every_placeholder_names_an_input_of_its_own_dag)
            expected = (
                str(cluster.gpu_count)
                if name == "retraining"
                else "{{$.inputs.parameters['pipelinechannel--gpu_count']}}"
            )
            assert resources[label]["accelerator"]["resourceCount"] == expected
            assert k8s["emptyDirMounts"] == [
                {
                    "medium": "Memory",
                    "mountPath": "/dev/shm",
                    "sizeLimit": cluster.shm_size,
                    "volumeName": "dshm",
                }
            ]
            assert resources[label]["resourceMemoryRequest"] == cluster.gpu_resources.memory_request
        else:
            assert "tolerations" not in k8s and "emptyDirMounts" not in k8s, task
            assert "nodeSelector" not in k8s  # cpu_node_selector is {} in params.yaml
            assert "accelerator" not in resources[label], task
            assert resources[label]["resourceCpuRequest"] == cluster.cpu_resources.cpu_request


def test_retraining_trains_only_inside_the_data_changed_condition(tmp_path):
    spec, _ = _compiled(tmp_path, "retraining")
    root = spec["root"]["dag"]["tasks"]
    assert {"configure", "plan"} <= set(root)
    cond = next(t for t in root.values() if "triggerPolicy" in t)
    assert (
        cond["triggerPolicy"]["condition"]
        == "inputs.parameter_values['pipelinechannel--plan-Output'] == true"
    )
    inner = spec["components"][cond["componentRef"]["name"]]["dag"]["tasks"]
    names = {t["taskInfo"]["name"] for t in inner.values()}
    assert {"finetune ptbxl", "evaluate ptbxl", "promote ptbxl", "promote chexpert"} <= names
    promote = next(t for t in inner.values() if t["taskInfo"]["name"] == "promote ptbxl")
    assert any(d.startswith("evaluate") for d in promote["dependentTasks"])


def test_promotion_gates_every_target(tmp_path):
    spec, _ = _compiled(tmp_path, "promotion")
    names = {t["taskInfo"]["name"] for t in spec["root"]["dag"]["tasks"].values()}
    assert names == {"configure", "promote ptbxl", "promote chexpert"}
    assert {"force", "reason", "actor", "overrides"} <= set(spec["root"]["inputDefinitions"]["parameters"])


def test_pytorchjob_mode_swaps_pretrain_for_a_cpu_launcher(tmp_path):
    from climbflow.config import parse

    data = load(REPO / "params.yaml").to_dict()
    data["cluster"]["pytorchjob"]["enabled"] = True
    path = compile_training(parse(data), tmp_path / "t.yaml")
    spec, plat = list(yaml.safe_load_all(path.read_text()))
    by_task = _executor_of(spec)
    launcher = by_task["pretrain ecg (PyTorchJob)"]
    assert "accelerator" not in spec["deploymentSpec"]["executors"][launcher]["container"].get(
        "resources", {}
    )
    assert "tolerations" not in plat["platforms"]["kubernetes"]["deploymentSpec"]["executors"][launcher]


def _strip_versions(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if "sdkVersion" not in line and "kfp==" not in line)


@pytest.mark.parametrize("name", PIPELINES)
def test_checked_in_pipeline_matches_the_code(tmp_path, name):
    """pipelines/compiled/<name>.yaml (what users upload) is regenerated by `climb compile` after any change."""
    _compiled(tmp_path, name)
    golden = (REPO / "pipelines" / "compiled" / f"{name}.yaml").read_text()
    assert _strip_versions(_CACHE[name][0]) == _strip_versions(golden), (
        "run `climb compile` and commit the YAML"
    )


@pytest.mark.parametrize("name", PIPELINES)
def test_every_placeholder_names_an_input_of_its_own_dag(tmp_path, name):
    """The KFP wire contract: a task's ``{{$.inputs.parameters['X']}}`` is resolved against the inputs of the DAG
    the task is in. kfp 2.17's compiler does not add a parameter used only in a platform setting (the GPU
    count) to a dsl.If branch's inputs, so the backend could not resolve it there; the container tier found it."""
    import re

    spec, _ = _compiled(tmp_path, name)
    placeholder = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")
    dags = {"root": spec["root"]} | {k: c for k, c in spec["components"].items() if "dag" in c}
    assert len(dags) > 1 or name == "promotion"
    checked = 0
    for dag_name, comp in dags.items():
        declared = set((comp.get("inputDefinitions") or {}).get("parameters") or {})
        for task_name, task in comp["dag"]["tasks"].items():
            inputs = (task.get("inputs") or {}).get("parameters") or {}
            used = set(placeholder.findall(json.dumps(task)))
            assert used <= set(inputs), f"{name}: {dag_name}/{task_name} uses {sorted(used - set(inputs))}"
            for key, value in inputs.items():
                parent = value.get("componentInputParameter")
                assert parent is None or parent in declared, (
                    f"{name}: {dag_name}/{task_name} input {key} reads {parent!r}, not an input of {dag_name}"
                )
                checked += parent is not None
    assert checked
