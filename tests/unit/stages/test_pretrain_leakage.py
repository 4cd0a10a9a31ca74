"""Pretraining never sees the val/test patients of a target that shares their patient namespace.

MIMIC-CXR (official split) and MIMIC-IV (subject hash split) both identify people by ``subject_id``: a
MIMIC-IV test patient may sit in MIMIC-CXR's train split. CheXpert ids live in another namespace, so the same
string there is another person and stays.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from climbflow.stages import pretrain
from climbflow.store.format import LABELS, MANIFEST, MANIFEST_SCHEMA, shard_name
from climbflow.train.data import StoreDataset

SIDE = 16
# mimic4 (the target): patient -> split. 10000002 and 10000004 are test patients, 10000003 a val patient.
MIMIC4 = {"10000001": "train", "10000002": "test", "10000003": "val", "10000004": "test"}
# pretraining stores: (patient, split, number of records)
MIMIC_CXR = [
    ("10000001", "train", 3),
    ("10000002", "train", 3),  # MIMIC-IV test patient in MIMIC-CXR's train split: must be excluded
    ("10000003", "train", 2),  # MIMIC-IV val patient: excluded too
    ("10000005", "train", 24),
    ("10000004", "test", 2),  # test in both: never trained on anyway
    ("10000006", "val", 8),
]
CHEXPERT = [("10000002", "train", 4), ("patient00007", "train", 20), ("patient00008", "val", 8)]


def write_store(
    root: Path, dataset: str, modality: str, rows: list[tuple[str, str]], classes: list[str]
) -> str:
    """A standardized store (manifest.parquet, labels.json, one .npy shard) of (patient, split) rows."""
    rng = np.random.default_rng(len(rows))
    shape = [1, SIDE, SIDE] if modality == "image2d" else [8]
    dtype = np.uint8 if modality == "image2d" else np.float32
    x = rng.integers(0, 255, (len(rows), *shape)).astype(dtype)
    y = (rng.random((len(rows), len(classes))) < 0.5).astype(np.float32)
    (root / "shards").mkdir(parents=True)
    np.save(root / shard_name(0), x)
    manifest = [
        {
            "sample_id": f"{dataset}/{patient}-{i}",
            "patient_id": patient,
            "dataset": dataset,
            "modality": modality,
            "split": split,
            "source_labels": "[]",
            "target": [float(v) for v in y[i]],
            "source_uri": f"file://{dataset}/{i}",
            "source_sha256": "0" * 64,
            "shard": 0,
            "offset": i,
            "shape": shape,
        }
        for i, (patient, split) in enumerate(rows)
    ]
    pq.write_table(pa.Table.from_pylist(manifest, schema=MANIFEST_SCHEMA), root / MANIFEST)
    labels = {
        "dataset": dataset,
        "modality": modality,
        "task": "multilabel" if len(classes) > 1 else "binary",
        "classes": classes,
        "sample_shape": shape,
        "dtype": str(x.dtype),
    }
    (root / LABELS).write_text(json.dumps(labels))
    return str(root)


def _expand(rows: list[tuple[str, str, int]]) -> list[tuple[str, str]]:
    return [(patient, split) for patient, split, n in rows for _ in range(n)]


@pytest.fixture
def stores(tmp_path: Path) -> list[str]:
    cxr = ["Edema", "No Finding"]
    ihm = ["in_hospital_mortality_48h"]
    return [
        write_store(tmp_path / "mimic4", "mimic4", "ehr", list(MIMIC4.items()), ihm),
        write_store(tmp_path / "mimic_cxr", "mimic_cxr", "image2d", _expand(MIMIC_CXR), cxr),
        write_store(tmp_path / "chexpert", "chexpert", "image2d", _expand(CHEXPERT), cxr),
    ]


@pytest.fixture
def params(params_factory, tmp_path: Path):
    sources = {name: str(tmp_path / "raw" / name) for name in ("mimic4", "mimic_cxr", "chexpert")}
    return params_factory(
        sources,
        **{
            "finetune.targets": ["mimic4"],
            "pretrain.epochs": 2,
            "pretrain.epochs_by_modality": {},
            "pretrain.batch_size": 8,
            "pretrain.warmup_steps": 1,
            "pretrain.checkpoint_every_n_steps": 0,
            "pretrain.encoders.image2d": {"width": 4, "depth": 2, "dropout": 0.0},
        },
    )


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Sample ids of every item the training loaders read (DataLoader workers: 0, same process)."""
    seen: list[str] = []
    original = StoreDataset.__getitem__

    def spy(self: StoreDataset, item):  # type: ignore[no-untyped-def]
        i = int(item[0]) if isinstance(item, tuple) else int(item)
        seen.append(self.sample_ids[i])
        return original(self, item)

    monkeypatch.setattr(StoreDataset, "__getitem__", spy)
    return seen


def test_held_out_patients_never_reach_pretraining(params, stores: list[str], reads: list[str]) -> None:
    result = pretrain.run(params, "image2d", stores)

    held_out = {"mimic_cxr/10000002", "mimic_cxr/10000003"}
    read_patients = {sid.rsplit("-", 1)[0] for sid in reads}
    assert not read_patients & held_out
    # the rest of the train split is trained on, CheXpert's "10000002" (another person) included
    assert {"mimic_cxr/10000001", "mimic_cxr/10000005", "chexpert/10000002"} <= read_patients

    out = Path(result.uri)
    record = json.loads((out / pretrain.EXCLUDED_FILE).read_text())
    assert (out / "encoder.pt").is_file() and result.report["excluded_patients"] == pretrain.EXCLUDED_FILE
    assert record["targets"] == {"mimic4": {"namespace": "mimic", "n_patients": 3}}
    cxr, chexpert = record["stores"]["mimic_cxr"], record["stores"]["chexpert"]
    counts = (cxr["n_records"], cxr["n_patients"], chexpert["n_records"], chexpert["n_patients"])
    assert counts == (5, 2, 0, 0)
    hashes = cxr["patients_sha256"]
    assert len(hashes) == 2 and all(re.fullmatch(r"[0-9a-f]{16}", h) for h in hashes)
    text = (out / pretrain.EXCLUDED_FILE).read_text()
    assert not any(patient in text for patient in MIMIC4)  # hashed ids only
    metrics = result.report["metrics"]
    assert metrics["held_out/excluded_records/mimic_cxr"] == 5.0
    assert metrics["held_out/excluded_patients/chexpert"] == 0.0


def test_namespaces_of_the_catalog() -> None:
    mimic = ("mimic_cxr", "mimic4", "mimic4_cxr", "mimic4_ecg")
    assert {pretrain.patient_namespace(d) for d in mimic} == {"mimic"}
    assert pretrain.patient_namespace("chexpert") == "chexpert" != pretrain.patient_namespace("vindr_cxr")
