"""pretrain: multi-task training of one modality's encoder across all of its standardized datasets.

Patients held out by a target never reach the encoder: before training, every train-split record of a
pretraining store whose patient is in the val or test split of an enabled target dataset of the same patient
namespace (:attr:`~climbflow.catalog.base.DatasetSpec.patient_namespace`: MIMIC-CXR and the MIMIC-IV entries
share MIMIC's ``subject_id``) is excluded. Targets are the enabled ``finetune.targets`` (or ``targets``).
``excluded_patients.json`` beside the encoder records, per store, how many records and patients were excluded,
patients as hashed ids only; the counts are also report metrics (``held_out/...``, logged to the run).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from climbflow import catalog
from climbflow.config import Params
from climbflow.stages.base import StageFailed, StageResult, Workspace, checkpoint_dir, fingerprint, run_cached
from climbflow.stages.common import store_version
from climbflow.store import uri as uris
from climbflow.store.format import MANIFEST, labels_of

logger = logging.getLogger(__name__)

HELD_OUT_SPLITS = ("val", "test")
EXCLUDED_FILE = "excluded_patients.json"


def run(
    params: Params,
    modality: str,
    standardized: list[str],
    out: str | None = None,
    targets: Sequence[str] | None = None,
) -> StageResult:
    """Pretrain on the ``modality`` stores among ``standardized`` (which may hold every store: the target
    stores of other modalities are read for their held-out patients)."""
    stores = [s for s in standardized if labels_of(s)["modality"] == modality]
    if not stores:
        raise StageFailed(f"pretrain {modality}: none of the standardized datasets has modality {modality!r}")
    cfg = params.pretrain.for_modality(modality)
    versions = {labels_of(s)["dataset"]: store_version(s) for s in stores}
    wanted = params.finetune.targets if targets is None else targets
    held, held_by = held_out_patients(params, standardized, stores, wanted)
    excluded, by_store = exclusions(stores, held)
    encoder = cfg.encoders.get(modality)
    key = fingerprint(
        "pretrain",
        modality,
        versions,
        cfg.model_dump(exclude={"modalities", "encoders", "epochs_by_modality"}),
        encoder.model_dump() if encoder else None,
        params.seed,
        *([_digest(excluded)] if excluded else []),
    )
    out = out or str(Workspace.from_params(params).stage_dir("pretrain", modality, key))

    def build(tmp: Path) -> dict[str, Any]:
        from climbflow.train.fit import pretrain

        record = {"held_out_splits": list(HELD_OUT_SPLITS), "targets": held_by, "stores": by_store}
        (tmp / EXCLUDED_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        summary = pretrain(
            [uris.local_copy(s) for s in stores],
            modality,
            cfg,
            tmp,
            params.seed,
            checkpoint_dir=ckpt,
            exclude_train=excluded,
        )
        return {
            "stage": "pretrain",
            "modality": modality,
            "datasets": sorted(versions),
            "data_versions": versions,
            "encoder": "encoder.pt",
            "excluded_patients": EXCLUDED_FILE,
            "metrics": numeric_metrics(summary.get("metrics", summary)) | _held_out_metrics(by_store),
        }

    ckpt = checkpoint_dir(params, "pretrain", out)
    result = run_cached("pretrain", modality, out, build)
    shutil.rmtree(ckpt, ignore_errors=True)  # finished: the checkpoints are no longer needed
    return result


def patient_namespace(dataset: str) -> str:
    """Datasets with the same namespace identify the same people by the same patient ids."""
    if dataset not in catalog.names():
        return dataset
    return catalog.get(dataset).patient_namespace or dataset


def held_out_patients(
    params: Params, standardized: list[str], stores: list[str], targets: Sequence[str]
) -> tuple[dict[str, set[str]], dict[str, Any]]:
    """namespace -> patient ids in val/test of an enabled target sharing a namespace with ``stores``; and per
    target what was read (``unchecked`` with a warning when its store is not among ``standardized``)."""
    namespaces = {patient_namespace(labels_of(s)["dataset"]) for s in stores}
    by_name = {labels_of(s)["dataset"]: s for s in standardized}
    enabled = set(params.enabled_datasets())
    held: dict[str, set[str]] = {}
    info: dict[str, Any] = {}
    for target in sorted(set(targets) & enabled):
        namespace = patient_namespace(target)
        if namespace not in namespaces:
            continue
        if target not in by_name:
            logger.warning(
                "pretrain: target %s shares patient namespace %r with the pretraining stores but its store "
                "is not among the inputs: its val/test patients cannot be excluded (pass every store)",
                target,
                namespace,
            )
            info[target] = {"namespace": namespace, "unchecked": True}
            continue
        manifest = _manifest(by_name[target])
        ids = set(manifest.loc[manifest["split"].isin(HELD_OUT_SPLITS), "patient_id"].astype(str))
        held.setdefault(namespace, set()).update(ids)
        info[target] = {"namespace": namespace, "n_patients": len(ids)}
    return held, info


def exclusions(stores: list[str], held: dict[str, set[str]]) -> tuple[set[str], dict[str, Any]]:
    """Sample ids of the train-split records of held-out patients, and per store the counts + hashed ids."""
    excluded: set[str] = set()
    by_store: dict[str, Any] = {}
    for store in stores:
        dataset = labels_of(store)["dataset"]
        namespace = patient_namespace(dataset)
        ids = held.get(namespace, set())
        manifest = _manifest(store) if ids else pd.DataFrame(columns=["sample_id", "patient_id", "split"])
        train = manifest[manifest["split"] == "train"]
        hit = train[train["patient_id"].astype(str).isin(ids)]
        excluded.update(hit["sample_id"])
        patients = sorted({_hash(namespace, p) for p in hit["patient_id"].astype(str)})
        by_store[dataset] = {
            "namespace": namespace,
            "n_records": len(hit),
            "n_patients": len(patients),
            "patients_sha256": patients,
        }
        if len(hit):
            message = "pretrain: %s: %d train records of %d held-out patients excluded"
            logger.info(message, dataset, len(hit), len(patients))
    return excluded, by_store


def _manifest(store: str) -> pd.DataFrame:
    return pd.read_parquet(uris.local_copy(store) / MANIFEST, columns=["sample_id", "patient_id", "split"])


def _hash(namespace: str, patient_id: str) -> str:
    return hashlib.sha256(f"{namespace}:{patient_id}".encode()).hexdigest()[:16]


def _digest(ids: set[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


def _held_out_metrics(by_store: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for dataset, row in by_store.items():
        out[f"held_out/excluded_records/{dataset}"] = float(row["n_records"])
        out[f"held_out/excluded_patients/{dataset}"] = float(row["n_patients"])
    return out


def numeric_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
