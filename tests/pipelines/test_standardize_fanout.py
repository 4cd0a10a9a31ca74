"""The fanned-out standardize (plan -> ParallelFor over shard ranges -> merge) under real kfp.local gives the
same store, byte for byte and by DVC version, as the one-process stage; and the training pipeline uses it."""

# no `from __future__ import annotations`: KFP reads the pipeline function's annotations as types

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from climbflow.kfp_local_print import print_restored
from climbflow.pipeline_runner import resolve_paths
from tests.pipelines.spec import training_dag

pytestmark = pytest.mark.integration


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_fanout_matches_one_process(sample_root, tmp_path, params_factory):
    from kfp import dsl, local

    from climbflow.stages import ingest, standardize, validate
    from components.standardize_merge import standardize_merge
    from components.standardize_plan import standardize_plan
    from components.standardize_range import standardize_range

    src = tmp_path / "ptbxl"
    shutil.copytree(sample_root / "ptbxl", src)
    stores = {}
    for mode in ("pool", "fanout"):
        params = params_factory(
            {"ptbxl": str(src)}, **{"standardize.shard_size": 35, "workspace.root": str(tmp_path / mode)}
        )
        snap = ingest.run(params, "ptbxl")
        val = validate.run(params, "ptbxl", snap.uri)
        if mode == "pool":
            stores[mode] = standardize.run(params, "ptbxl", snap.uri, val.uri).uri
            continue

        @dsl.pipeline(name="fanout")
        def fanout(params_json: str, snapshot: str, validation: str) -> str:
            ranges = standardize_plan(
                params_json=params_json, dataset="ptbxl", snapshot=snapshot, validation=validation
            )
            with dsl.ParallelFor(ranges.output) as item:
                part = standardize_range(params_json=params_json, item=item)
            return standardize_merge(
                params_json=params_json,
                tracking_json="",
                pipeline_run_id="",
                dataset="ptbxl",
                snapshot=snapshot,
                validation=validation,
                parts=dsl.Collected(part.output),
            ).output

        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
        with print_restored():  # four parallel tasks: kfp.local's indenting print can stay installed
            run = fanout(params_json=json.dumps(params.to_dict()), snapshot=snap.uri, validation=val.uri)
        stores[mode] = run.output
    pool, fan = Path(stores["pool"]), Path(stores["fanout"])
    assert len(list((fan / "shards").iterdir())) == 4  # 120 records in ranges of 35: four parallel tasks
    assert _digest(pool) == _digest(fan)
    assert not Path(str(fan) + ".parts").exists()  # parts removed once merged
    dvc = [yaml.safe_load(Path(str(p) + ".dvc").read_text())["outs"][0]["md5"] for p in (pool, fan)]
    assert dvc[0] == dvc[1]


def test_training_pipeline_fans_out_only_when_opted_in(tmp_path):
    """cluster.standardize_fanout is an experimental opt-in (a Collected nested in a ParallelFor and
    collected again outside: one level deeper than KFP's backend tests); off by default."""
    from climbflow.config import load
    from climbflow.pipeline_runner import compile_training

    params = resolve_paths(load("params.yaml"), Path.cwd())
    assert params.cluster.standardize_fanout is False
    fanned = params.model_copy(
        update={"cluster": params.cluster.model_copy(update={"standardize_fanout": True})}
    )
    spec = next(yaml.safe_load_all(compile_training(fanned, tmp_path / "t.yaml").read_text()))
    assert {"comp-standardize-plan", "comp-standardize-range", "comp-standardize-merge"} <= set(
        spec["components"]
    )
    root = training_dag(spec)
    loop = next(t for name, t in root.items() if name.startswith("for-loop"))
    inner = spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    ranges = next(name for name in inner if name.startswith("for-loop"))
    assert set(inner) == {"ingest", "validate", "standardize-plan", ranges, "standardize-merge"}
    assert sorted(inner["standardize-plan"]["dependentTasks"]) == ["ingest", "validate"]
    assert set(inner["standardize-merge"]["dependentTasks"]) >= {"ingest", "validate", ranges}
    range_tasks = spec["components"][inner[ranges]["componentRef"]["name"]]["dag"]["tasks"]
    assert set(range_tasks) == {"standardize-range"}
    local_params = params
    spec_local = next(yaml.safe_load_all(compile_training(local_params, tmp_path / "l.yaml").read_text()))
    assert (
        "comp-standardize-range" not in spec_local["components"]
        and "comp-standardize" in spec_local["components"]
    )
