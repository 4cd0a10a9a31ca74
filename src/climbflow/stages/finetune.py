"""finetune: load a pretrained encoder and train it (full or linear probe) on one target dataset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.stages.base import StageResult, Workspace, checkpoint_dir, fingerprint, read_report, run_cached
from climbflow.stages.common import pick_store, store_version
from climbflow.stages.pretrain import numeric_metrics
from climbflow.store import uri as uris


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
            uris.local_copy(standardized),
            uris.local_copy(pretrained) / pre["encoder"],
            cfg,
            tmp,
            params.seed,
            checkpoint_dir=ckpt,
        )
        if summary.get("few_shot"):  # the drawn samples, so the few-shot run can be audited and repeated
            (tmp / "few_shot.json").write_text(
                json.dumps(summary["few_shot"], indent=2, sort_keys=True) + "\n"
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
            "few_shot": _few_shot(summary.get("few_shot")),
            "metrics": numeric_metrics(summary.get("metrics", summary)),
        }

    ckpt = checkpoint_dir(params, "finetune", out)
    result = run_cached("finetune", target, out, build)
    shutil.rmtree(ckpt, ignore_errors=True)  # finished: the checkpoints are no longer needed
    return result


def _few_shot(info: dict[str, Any] | None) -> dict[str, Any] | None:
    """k, seed and how many train samples were drawn (the selected ids stay in the run's artifacts)."""
    if not info:
        return None
    return {k: v for k, v in info.items() if k != "selected_ids"}
