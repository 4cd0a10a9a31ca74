"""One image tag: the project version (pyproject.toml). docker/build.sh tags it (checked with its --print-tags
dry run, no container engine needed), params.yaml and ClusterConfig default to it, kustomize's `images:` puts it
into the rendered Deployment, and the launcher's PyTorchJob uses the params image. The optional registry pull
Secret (k8s/components/registry-auth) reaches the MLflow pod and the pipeline's ServiceAccount.
"""

from __future__ import annotations

import os
import subprocess
import tomllib

import pytest
import yaml

from climbflow.cluster.pytorchjob import TEMPLATE
from tests.k8s.render import K8S, REPO, kustomize, one

REPOSITORY = "ghcr.io/climbflow/climbflow"


def _build_tags(*args: str) -> list[str]:
    proc = subprocess.run(
        ["bash", str(REPO / "docker" / "build.sh"), "--print-tags", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ["PATH"]},  # no docker needed (and none is called)
    )
    assert proc.returncode == 0, f"docker/build.sh --print-tags failed: {proc.stderr}"
    return proc.stdout.split()


def test_build_sh_tags_the_project_version():
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert _build_tags() == [f"{REPOSITORY}:{version}", f"{REPOSITORY}:{version}-gpu"]
    assert _build_tags("registry.example/team/climbflow") == [
        f"registry.example/team/climbflow:{version}",
        f"registry.example/team/climbflow:{version}-gpu",
    ]


def test_params_and_config_defaults_are_what_build_sh_produces():
    from climbflow.config import ClusterConfig

    cpu, gpu = _build_tags()
    cluster = yaml.safe_load((REPO / "params.yaml").read_text())["cluster"]
    assert (cluster["image"], cluster["gpu_image"]) == (cpu, gpu), (
        f"params.yaml cluster.image/gpu_image {cluster['image']}, {cluster['gpu_image']} != docker/build.sh {cpu}, {gpu}"
    )
    defaults = ClusterConfig()
    assert (defaults.image, defaults.gpu_image) == (cpu, gpu), (
        "ClusterConfig image defaults != docker/build.sh"
    )


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_rendered_deployment_runs_the_image_build_sh_produces(overlay):
    cpu, _ = _build_tags()
    deployment = one(kustomize(K8S / "overlays" / overlay), "Deployment", "mlflow")
    images = [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]
    assert images == [cpu], f"{overlay}: Deployment mlflow runs {images}, docker/build.sh builds {cpu}"


def test_pytorchjob_images_are_the_params_images():
    from climbflow.cluster.pytorchjob import distributed_params, render
    from climbflow.config import load

    cpu, gpu = _build_tags()
    template = yaml.safe_load(TEMPLATE.read_text())
    assert (
        template["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["image"] == gpu
    )
    data = load(REPO / "params.yaml").to_dict()
    for gpus, want in ((2, gpu), (0, cpu)):
        data["cluster"]["pytorchjob"].update({"enabled": True, "nodes": 2, "gpus_per_node": gpus})
        manifest = render(distributed_params(data), "ecg", ["s3://b/x"])
        for role, spec in manifest["spec"]["pytorchReplicaSpecs"].items():
            assert spec["template"]["spec"]["containers"][0]["image"] == want, (role, gpus)


def test_registry_auth_component_adds_the_pull_secret(tmp_path):
    import kubernetes_validate

    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(K8S / "overlays" / "prod", tmp_path)],
                "components": [os.path.relpath(K8S / "components" / "registry-auth", tmp_path)],
                "images": [
                    {"name": REPOSITORY, "newName": "registry.example/team/climbflow", "newTag": "1.2.3"}
                ],
            }
        )
    )
    objs = kustomize(tmp_path)
    for o in objs:
        kubernetes_validate.validate(o, "1.30", strict=True)
    pod = one(objs, "Deployment", "mlflow")["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "climbflow-registry"}]
    assert pod["containers"][0]["image"] == "registry.example/team/climbflow:1.2.3"
    assert one(objs, "ServiceAccount", "climbflow-pipeline")["imagePullSecrets"] == [
        {"name": "climbflow-registry"}
    ]
    # without the component: no pull Secret is required
    plain = one(kustomize(K8S / "overlays" / "prod"), "Deployment", "mlflow")["spec"]["template"]["spec"]
    assert "imagePullSecrets" not in plain
