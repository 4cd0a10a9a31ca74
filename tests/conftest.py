"""Shared fixtures: the sample datasets (written once per session) and a params factory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("CLIMBFLOW_NUM_THREADS", "1")

# dvc binds its log handlers to the sys.stderr of its first import: import it now, at session start, not inside a
# CliRunner.invoke whose stream is closed afterwards ("I/O operation on closed file" in every later dvc call)
import dvc  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _no_tracking_uri_leaks():
    """``mlflow.set_tracking_uri`` (called by tests) exports ``$MLFLOW_TRACKING_URI``, which climbflow honours as
    the user's setting: restore it after each test so one test's database never becomes the next one's."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


@pytest.fixture(autouse=True)
def _no_print_leaks():
    """kfp.local's parallel tasks can leave its indenting ``print`` installed (see climbflow.kfp_local_print):
    restore ``print`` after each test so one test's pipeline never writes stray spaces into the next one's stdout."""
    import builtins

    before = builtins.print
    yield
    builtins.print = before


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    """Small PTB-XL and CheXpert copies in their real layouts (shared, read-only for tests)."""
    from climbflow import sampledata

    root = tmp_path_factory.mktemp("sample")
    sampledata.write("ptbxl", root / "ptbxl", 120, seed=0)
    sampledata.write("chexpert", root / "chexpert", 100, seed=0)
    return root


def make_params(tmp_path: Path, sources: dict[str, str], **overrides) -> Path:
    """A params.yaml in ``tmp_path`` from the repo's, with a private workspace and the given sources."""
    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["workspace"]["root"] = str(tmp_path / "workspace")
    data["datasets"] = {
        name: {
            "source": src,
            **({"options": data["datasets"][name].get("options", {})} if name in data["datasets"] else {}),
        }
        for name, src in sources.items()
    }
    data["finetune"]["targets"] = [t for t in data["finetune"]["targets"] if t in sources]
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[part]
        node[leaf] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def params_factory(tmp_path):
    def factory(sources: dict[str, str], **overrides):
        from climbflow.config import load
        from climbflow.pipeline_runner import resolve_paths

        path = make_params(tmp_path, sources, **overrides)
        return resolve_paths(load(path), tmp_path)

    return factory


@pytest.fixture
def standardized_sample(tmp_path, params_factory):
    """``standardized_sample(dataset, n, **params_overrides) -> StoreReader``: write the dataset's sample copy,
    then run ingest -> validate -> standardize on it with a private workspace (small, for per-dataset tests)."""

    def factory(dataset: str, n: int, seed: int = 0, **overrides):
        from climbflow import sampledata
        from climbflow.stages import ingest, standardize, validate
        from climbflow.store.format import StoreReader

        src = sampledata.write(dataset, tmp_path / "raw" / dataset, n, seed=seed)
        params = params_factory({dataset: str(src)}, **overrides)
        snap = ingest.run(params, dataset)
        val = validate.run(params, dataset, snap.uri)
        store = standardize.run(params, dataset, snap.uri, val.uri)
        return StoreReader(store.uri)

    return factory
