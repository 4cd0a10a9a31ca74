"""pretrain: multi-task training of one modality's encoder across all of its standardized datasets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from climbflow.config import Params
from climbflow.stages.base import StageFailed, StageResult, Workspace, checkpoint_dir, fingerprint, run_cached
from climbflow.stages.common import store_version
from climbflow.stages.standardize import labels_of
from climbflow.store import uri as uris


def run(params: Params, modality: str, standardized: list[str], out: str | None = None) -> StageResult:
    stores = [s for s in standardized if labels_of(s)["modality"] == modality]
    if not stores:
        raise StageFailed(f"pretrain {modality}: none of the standardized datasets has modality {modality!r}")
    cfg = params.pretrain.for_modality(modality)
    versions = {labels_of(s)["dataset"]: store_version(s) for s in stores}
    encoder = cfg.encoders.get(modality)
    key = fingerprint(
        "pretrain",
        modality,
        versions,
        cfg.model_dump(exclude={"modalities", "encoders", "epochs_by_modality"}),
        encoder.model_dump() if encoder else None,
        params.seed,
    )
    out = out or str(Workspace.from_params(params).stage_dir("pretrain", modality, key))

    def build(tmp: Path) -> dict[str, Any]:
        from climbflow.train.fit import pretrain

        summary = pretrain(
            [uris.local_copy(s) for s in stores], modality, cfg, tmp, params.seed, checkpoint_dir=ckpt
        )
        return {
            "stage": "pretrain",
            "modality": modality,
            "datasets": sorted(versions),
            "data_versions": versions,
            "encoder": "encoder.pt",
            "metrics": _numbers(summary.get("metrics", summary)),
        }

    ckpt = checkpoint_dir(params, "pretrain", out)
    result = run_cached("pretrain", modality, out, build)
    shutil.rmtree(ckpt, ignore_errors=True)  # finished: the checkpoints are no longer needed
    return result


def _numbers(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
