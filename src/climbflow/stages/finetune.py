"""finetune: load a pretrained encoder and train it (full or linear probe) on one target dataset."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.stages.base import StageResult, Workspace, checkpoint_dir, fingerprint, read_report, run_cached
from climbflow.stages.common import pick_store, store_version
from climbflow.stages.pretrain import _numbers


def run(
    params: Params, target: str, pretrained: str, standardized: str | list[str], out: str | None = None
) -> StageResult:
    standardized = pick_store(standardized, target)
    pre = read_report(pretrained)
    cfg = params.finetune.for_modality(pre["modality"])
    version = store_version(standardized)
    key = fingerprint(
        "finetune",
        target,
        pretrained,
        version,
        cfg.model_dump(exclude={"targets", "epochs_by_modality"}),
        params.seed,
    )
    out = out or str(Workspace.from_params(params).stage_dir("finetune", target, key))

    def build(tmp: Path) -> dict[str, Any]:
        from climbflow.train.fit import finetune

        summary = finetune(
            Path(standardized), Path(pretrained) / pre["encoder"], cfg, tmp, params.seed, checkpoint_dir=ckpt
        )
        return {
            "stage": "finetune",
            "target": target,
            "modality": pre["modality"],
            "pretrained": pretrained,
            "data_version": version,
            "pretrain_data_versions": pre["data_versions"],
            "model": "model.pt",
            "mode": cfg.mode,
            "metrics": _numbers(summary.get("metrics", summary)),
        }

    ckpt = checkpoint_dir(params, "finetune", out)
    result = run_cached("finetune", target, out, build)
    shutil.rmtree(ckpt, ignore_errors=True)  # finished: the checkpoints are no longer needed
    return result
