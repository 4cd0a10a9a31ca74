"""Fusion training on three tiny synthetic MIMIC-IV-style stores joined by record id (hadm_id)."""

from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from pydantic import ValidationError
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score

from climbflow.config import EncoderConfig
from climbflow.models import build_encoder
from climbflow.store.format import LABELS, MANIFEST, MANIFEST_SCHEMA, StoreReader, shard_name
from climbflow.train.fusion import (
    FusionConfig,
    FusionDataset,
    embed_texts,
    few_shot_indices,
    fit_fusion,
    join_stores,
    load_fusion_model,
)

ENC = EncoderConfig(width=4, depth=2, dropout=0.0)
SPLITS = {"train": 112, "val": 32, "test": 48}
F_EHR, S, T, D_TEXT = 8, 16, 64, 16
FILLER = ["admitted", "via", "emergency", "department", "with", "dyspnea", "and", "fever", "history", "of"]


def write_store(
    root: Path,
    name: str,
    modality: str,
    ids: list[str],
    splits: list[str],
    targets: np.ndarray,
    x: np.ndarray,
    classes: list[str],
    task: str,
    metas: list[dict] | None = None,
    shard_size: int = 50,
) -> Path:
    """A store in the standardized format: manifest.parquet, labels.json and .npy shards."""
    (root / "shards").mkdir(parents=True)
    for k in range(-(-len(ids) // shard_size)):
        np.save(root / shard_name(k), x[k * shard_size : (k + 1) * shard_size])
    rows = [
        {
            "sample_id": f"{name}/{rid}",
            "patient_id": f"p{rid}",
            "dataset": name,
            "modality": modality,
            "split": splits[i],
            "source_labels": "[]",
            "target": [float(v) for v in targets[i]],
            "source_uri": f"toy://{name}/{rid}",
            "source_sha256": "0" * 64,
            "shard": i // shard_size,
            "offset": i % shard_size,
            "shape": list(x.shape[1:]),
            "sampling_rate": None,
            "orig_sampling_rate": None,
            "age": 60.0,
            "sex": "M",
            "meta": json.dumps(metas[i]) if metas else None,
        }
        for i, rid in enumerate(ids)
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), root / MANIFEST)
    labels = {
        "dataset": name,
        "modality": modality,
        "task": task,
        "classes": classes,
        "sample_shape": list(x.shape[1:]),
        "dtype": str(x.dtype),
    }
    (root / LABELS).write_text(json.dumps(labels))
    return root


def make_stores(root: Path, seed: int = 0) -> dict:
    """EHR (cohort, targets, text), CXR (70 % of admissions + 6 foreign records) and ECG (60 %), each
    carrying the label: EHR feature 0, a bright square, a 8-cycle sine, the word 'lactate_high'."""
    rng = np.random.default_rng(seed)
    n = sum(SPLITS.values())
    hadm = [str(20000000 + 7 * i) for i in range(n)]
    split = [s for s, k in SPLITS.items() for _ in range(k)]
    y = (rng.random(n) < 0.4).astype(np.float32)
    los = (2.0 + 5.0 * y + rng.gamma(2.0, 0.5, n)).astype(np.float32)
    y_nan = y.copy()
    y_nan[[5, 130]] = np.nan  # no IHM label: excluded from the cohort
    ehr = rng.standard_normal((n, F_EHR)).astype(np.float32)
    ehr[:, 0] += 1.6 * (2 * y - 1)
    ehr[rng.random((n, F_EHR)) < 0.1] = np.nan
    ehr[[3, 40]] = np.nan  # EHR features entirely missing
    has_text = rng.random(n) < 0.8
    metas = []
    for i in range(n):
        words = list(rng.choice(FILLER, 6)) + ["lactate_high" if y[i] else "lactate_normal"]
        metas.append(
            {"window_hours": 48, **({"text": " ".join(rng.permutation(words))} if has_text[i] else {})}
        )
    targets = np.stack([y_nan, los], 1)
    stores = {
        "ehr": write_store(
            root / "ehr", "mimic4", "ehr", hadm, split, targets, ehr, ["ihm48", "los"], "binary", metas
        ),
        "ehr_los": write_store(
            root / "ehr_los",
            "mimic4_los",
            "ehr",
            hadm,
            split,
            los[:, None],
            ehr,
            ["los"],
            "regression",
            metas,
        ),
    }
    # CXR: a random 70 % of admissions, written in a shuffled order, plus records of other admissions
    img_rows = np.sort(rng.choice(n, int(0.7 * n), replace=False))
    img_rows = rng.permutation(img_rows)
    img = rng.normal(90, 25, (len(img_rows) + 6, 1, S, S))
    img[: len(img_rows)][y[img_rows] > 0, :, 4:10, 4:10] += 110
    img_ids = [hadm[i] for i in img_rows] + [str(30000000 + i) for i in range(6)]
    img_split = [split[i] for i in img_rows] + ["train"] * 6
    stores["image2d"] = write_store(
        root / "cxr",
        "mimic4_cxr",
        "image2d",
        img_ids,
        img_split,
        np.zeros((len(img_ids), 1)),
        np.clip(img, 0, 255).astype(np.uint8),
        ["any"],
        "binary",
    )
    ecg_rows = rng.permutation(np.sort(rng.choice(n, int(0.6 * n), replace=False)))
    t = np.arange(T) / T
    ecg = 0.5 * rng.standard_normal((len(ecg_rows), 2, T))
    ecg += y[ecg_rows, None, None] * np.sin(2 * np.pi * 8 * t + rng.uniform(0, 6.3, (len(ecg_rows), 1, 1)))
    stores["ecg"] = write_store(
        root / "ecg",
        "mimic4_ecg",
        "ecg",
        [hadm[i] for i in ecg_rows],
        [split[i] for i in ecg_rows],
        np.zeros((len(ecg_rows), 1)),
        ecg.astype(np.float16),
        ["any"],
        "binary",
    )
    truth = {
        "hadm": hadm,
        "y": y,
        "los": los,
        "img_rows": img_rows,
        "ecg_rows": ecg_rows,
        "has_text": has_text,
    }
    return {"stores": stores, "truth": truth}


def toy_text_encoder(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Deterministic stand-in for the MiniLM encoder: a fixed random vector per word."""
    vecs = [
        np.stack([np.random.default_rng(zlib.crc32(w.encode())).standard_normal(D_TEXT) for w in t.split()])
        for t in texts
    ]
    N = max(len(v) for v in vecs)
    tokens, mask = torch.zeros(len(texts), N, D_TEXT), torch.zeros(len(texts), N, dtype=torch.bool)
    for i, v in enumerate(vecs):
        tokens[i, : len(v)] = torch.from_numpy(v).float()
        mask[i, : len(v)] = True
    return tokens.sum(1) / mask.sum(1, keepdim=True), tokens, mask


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return make_stores(tmp_path_factory.mktemp("fusion"))


def _stores(data: dict, ehr: str = "ehr") -> dict[str, Path]:
    s = data["stores"]
    return {"ehr": s[ehr], "image2d": s["image2d"], "ecg": s["ecg"]}


def _cfg(**kw) -> FusionConfig:
    base = dict(
        strategy="concat",
        target="ihm48",
        epochs=4,
        batch_size=16,
        lr=3e-3,
        warmup_steps=2,
        hidden=16,
        heads=2,
        dropout=0.0,
        encoder=ENC,
        text_tokens=12,
    )
    return FusionConfig(**{**base, **kw})


def _fit(data: dict, out: Path, seed: int = 0, **kw) -> dict:
    return fit_fusion(_stores(data), {}, _cfg(**kw), out, seed, text_encoder=toy_text_encoder)


# ---------------------------------------------------------------- join / dataset


def test_join_by_record_id_with_missing_rows(data: dict) -> None:
    truth = data["truth"]
    cohort = join_stores(_stores(data), "ihm48")
    n = sum(SPLITS.values())
    assert len(cohort) == n - 2 and cohort.task == "binary"  # two admissions without a target
    # foreign CXR records and the records of the two unlabelled admissions are not in the cohort
    dropped = {5, 130}
    assert cohort.unmatched == {
        "image2d": 6 + len(dropped & set(truth["img_rows"])),
        "ecg": len(dropped & set(truth["ecg_rows"])),
    }
    assert len(cohort.indices("train")) == SPLITS["train"] - 1
    order = [truth["hadm"].index(r) for r in cohort.record_ids]
    np.testing.assert_array_equal(cohort.y, truth["y"][order])
    assert (cohort.shard["image2d"] >= 0).sum() == len(set(truth["img_rows"]) - {5, 130})
    text = embed_texts(cohort.texts, toy_text_encoder, 12, tokens=True)
    ds = FusionDataset(cohort, np.arange(len(cohort)), ["ehr", "text", "image2d", "ecg"], text)
    img, ecg = StoreReader(data["stores"]["image2d"]), StoreReader(data["stores"]["ecg"])
    img_pos = {s.split("/")[1]: i for i, s in enumerate(img.manifest["sample_id"])}
    ecg_pos = {s.split("/")[1]: i for i, s in enumerate(ecg.manifest["sample_id"])}
    seen = {"image2d": [0, 0], "ecg": [0, 0]}
    for j in range(len(cohort)):
        item, rid, src = ds[j], cohort.record_ids[j], order[j]
        for m, pos, reader in (("image2d", img_pos, img), ("ecg", ecg_pos, ecg)):
            present = bool(item["present"][m])
            assert present == (rid in pos)
            seen[m][present] += 1
            expected = (
                reader.sample(pos[rid]).astype(np.float32)
                if present
                else np.zeros(reader.labels["sample_shape"])
            )
            np.testing.assert_array_equal(item["x"][m].numpy(), expected)
        assert bool(item["present"]["text"]) == bool(truth["has_text"][src])
        assert bool(item["present"]["ehr"]) == (src not in (3, 40))  # all-NaN EHR counts as absent
        assert float(item["y"]) == truth["y"][src]
    assert min(min(v) for v in seen.values()) > 10  # both present and absent rows were checked
    cov = cohort.coverage("test")
    assert 0.4 < cov["image2d"] < 0.95 and 0.3 < cov["ecg"] < 0.9 and 0.6 < cov["text"] < 1.0


def test_join_regression_target_and_auto_task(data: dict) -> None:
    cohort = join_stores(_stores(data, "ehr_los"))
    assert cohort.task == "regression" and cohort.target == "los" and len(cohort) == sum(SPLITS.values())
    np.testing.assert_allclose(cohort.y, data["truth"]["los"])
    with pytest.raises(ValueError, match="set fusion.target"):
        join_stores(_stores(data))
    with pytest.raises(ValueError, match="not 0/1"):
        join_stores(_stores(data), "los", "binary")


def test_join_rejects_inconsistent_stores(data: dict, tmp_path: Path) -> None:
    s = data["stores"]
    ids, x = ["1", "2", "3"], np.zeros((3, 2, T), np.float16)
    moved = write_store(
        tmp_path / "a",
        "e",
        "ecg",
        [data["truth"]["hadm"][0], *ids[1:]],
        ["test"] * 3,
        np.zeros((3, 1)),
        x,
        ["any"],
        "binary",
    )
    with pytest.raises(ValueError, match="is in split 'test' but in 'train'"):
        join_stores({"ehr": s["ehr"], "ecg": moved}, "ihm48")
    dup = write_store(
        tmp_path / "b", "e", "ecg", ["1", "1", "3"], ["train"] * 3, np.zeros((3, 1)), x, ["any"], "binary"
    )
    with pytest.raises(ValueError, match="duplicated"):
        join_stores({"ehr": s["ehr"], "ecg": dup}, "ihm48")
    with pytest.raises(ValueError, match="store modality is 'ecg', given as 'image2d'"):
        join_stores({"ehr": s["ehr"], "image2d": s["ecg"]}, "ihm48")
    with pytest.raises(ValueError, match="defines the cohort"):
        join_stores({"ecg": s["ecg"]})


def test_few_shot_indices_per_class_and_per_day_bin() -> None:
    y = np.array([0] * 30 + [1] * 10, dtype=np.float32)
    idx = few_shot_indices(y, "binary", 4, seed=0)
    assert len(idx) == len(y) and len(set(idx)) == 8
    assert sorted(np.bincount(y[np.unique(idx)].astype(int)).tolist()) == [4, 4]
    np.testing.assert_array_equal(idx, few_shot_indices(y, "binary", 4, seed=0))
    assert not np.array_equal(idx, few_shot_indices(y, "binary", 4, seed=1))
    los = np.array([1.2, 0.9, 1.4, 2.6, 3.1, 2.9, 3.4, 7.0], dtype=np.float32)  # bins 1, 3, 3(2.9->3), 7
    idx = few_shot_indices(los, "regression", 1, seed=0)
    assert len(idx) == len(los) and sorted(np.rint(los[np.unique(idx)]).tolist()) == [1.0, 3.0, 7.0]


def test_config_is_strict() -> None:
    with pytest.raises(ValidationError, match="divisible"):
        FusionConfig(hidden=10, heads=4)
    with pytest.raises(ValidationError, match="extra"):
        FusionConfig(strateg="late")
    with pytest.raises(ValidationError):
        FusionConfig(strategy="attention")


# ---------------------------------------------------------------- training


@pytest.mark.parametrize("strategy", ["late", "concat", "cross_attention", "gated"])
def test_each_strategy_learns(data: dict, tmp_path: Path, strategy: str) -> None:
    result = _fit(data, tmp_path, strategy=strategy)
    assert result["metrics"]["test/macro_auc"] > 0.75, result[
        "metrics"
    ]  # shuffled labels give ~0.5 (test below)
    assert result["n_train"] == SPLITS["train"] - 1 and result["unmatched"]["image2d"] >= 6
    assert len(result["history"]) == 4
    model, info = load_fusion_model(result["model_path"])
    assert info["task"] == "binary" and model.strategy == strategy and not model.training


def test_shuffled_labels_do_not_learn(data: dict, tmp_path: Path) -> None:
    """Negative control: with no signal in any modality the test AUC stays near chance."""
    s = data["stores"]
    man = pq.read_table(s["ehr"] / MANIFEST).to_pandas()
    man["target"] = man["target"].to_numpy()[
        np.random.default_rng(99).permutation(len(man))
    ]  # labels permuted
    root = tmp_path / "shuffled"
    root.mkdir()
    (root / "shards").symlink_to(s["ehr"] / "shards")
    (root / LABELS).write_text((s["ehr"] / LABELS).read_text())
    pq.write_table(pa.Table.from_pandas(man, schema=MANIFEST_SCHEMA, preserve_index=False), root / MANIFEST)
    stores = {**_stores(data), "ehr": root}
    result = fit_fusion(
        stores, {}, _cfg(strategy="gated"), tmp_path / "out", 0, text_encoder=toy_text_encoder
    )
    assert abs(result["metrics"]["test/macro_auc"] - 0.5) < 0.2, result["metrics"]


def test_test_split_scored_with_the_shared_metrics_and_patient_level_cis(data: dict, tmp_path: Path) -> None:
    """Fusion is scored like every other model: AUC, sensitivity, specificity, F1 with bootstrap CIs (oracle:
    scikit-learn on the written test predictions; test rows from the EHR manifest read here)."""
    result = fit_fusion(
        _stores(data), {}, _cfg(strategy="late"), tmp_path, 0, text_encoder=toy_text_encoder, n_boot=200
    )
    pred = pd.read_parquet(tmp_path / "test_predictions.parquet")
    man = pd.read_parquet(data["stores"]["ehr"] / MANIFEST)
    ihm = np.stack(man["target"].to_numpy())[:, 0]
    test = man[(man["split"] == "test") & ~np.isnan(ihm)]
    assert pred["record_id"].tolist() == [s.split("/", 1)[1] for s in test["sample_id"]]
    assert pred["patient_id"].tolist() == test["patient_id"].tolist()
    y, p = pred["y_true"].to_numpy(), pred["y_pred"].to_numpy()
    hard = p >= 0.5
    oracle = {
        "macro_auc": roc_auc_score(y, p),
        "sensitivity": recall_score(y, hard),
        "specificity": recall_score(1 - y, ~hard),
        "f1": f1_score(y, hard),
        "accuracy": accuracy_score(y, hard),
    }
    for k, v in oracle.items():
        assert result["metrics"][f"test/{k}"] == pytest.approx(v, abs=1e-9), k
        ci = result["test"]["ci"][k]
        assert ci["low"] <= v <= ci["high"] and ci["low"] < ci["high"], (k, ci)
        assert ci["n_boot"] == 200 and ci["n_patients"] == test["patient_id"].nunique()
    assert result["test"]["quality"]["verdict"] == "ok", result["test"]["quality"]
    assert "test/auc" not in result["metrics"] and "val/macro_auc" in result["history"][-1]


def test_no_test_admissions_is_a_clear_error(data: dict, tmp_path: Path) -> None:
    s = data["stores"]
    man = pq.read_table(s["ehr"] / MANIFEST).to_pandas()
    man.loc[man["split"] == "test", "split"] = "val"
    root = tmp_path / "no_test"
    root.mkdir()
    (root / "shards").symlink_to(s["ehr"] / "shards")
    (root / LABELS).write_text((s["ehr"] / LABELS).read_text())
    pq.write_table(pa.Table.from_pandas(man, schema=MANIFEST_SCHEMA, preserve_index=False), root / MANIFEST)
    with pytest.raises(ValueError, match=r"no_test: no test admissions with a ihm48 target"):
        fit_fusion({"ehr": root}, {}, _cfg(modalities=["ehr"]), tmp_path / "out", 0)


def test_deterministic_given_the_seed(data: dict, tmp_path: Path) -> None:
    a = _fit(data, tmp_path / "a", seed=3, strategy="cross_attention", epochs=2)
    b = _fit(data, tmp_path / "b", seed=3, strategy="cross_attention", epochs=2)
    c = _fit(data, tmp_path / "c", seed=4, strategy="cross_attention", epochs=2)
    assert a["metrics"] == b["metrics"]
    sa, sb, sc = (torch.load(r["model_path"], weights_only=True)["state_dict"] for r in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_length_of_stay_regression_beats_the_mean(data: dict, tmp_path: Path) -> None:
    cfg = _cfg(strategy="concat", target=None, epochs=6, modalities=["ehr", "text", "ecg"])
    result = fit_fusion(_stores(data, "ehr_los"), {}, cfg, tmp_path, 0, text_encoder=toy_text_encoder)
    cohort = join_stores(_stores(data, "ehr_los"))
    y_test = cohort.y[cohort.indices("test")]
    baseline = float(np.abs(y_test - cohort.y[cohort.indices("train")].mean()).mean())
    assert result["task"] == "regression" and result["metrics"]["test/mae"] < 0.8 * baseline, (
        result,
        baseline,
    )
    pred = pd.read_parquet(tmp_path / "test_predictions.parquet")
    np.testing.assert_allclose(pred["y_true"], y_test)  # the cohort's test order
    mae = float(np.abs(pred["y_pred"] - pred["y_true"]).mean())
    assert result["metrics"]["test/mae"] == pytest.approx(mae, rel=1e-6)
    ci = result["test"]["ci"]  # regression gets patient-level CIs too
    assert set(ci) >= {"mae", "rmse", "r2"} and ci["mae"]["low"] <= mae <= ci["mae"]["high"]


def test_few_shot_pretrained_frozen_encoder(data: dict, tmp_path: Path) -> None:
    torch.manual_seed(7)
    enc = build_encoder("ecg", ENC, (2, T))
    pre = {
        "state_dict": enc.state_dict(),
        "encoder": ENC.model_dump(),
        "modality": "ecg",
        "sample_shape": [2, T],
    }
    torch.save(pre, tmp_path / "encoder.pt")
    cfg = _cfg(strategy="gated", few_shot=8, freeze_encoders=True, epochs=2)
    result = fit_fusion(
        _stores(data),
        {"ecg": tmp_path / "encoder.pt"},
        cfg,
        tmp_path / "out",
        0,
        text_encoder=toy_text_encoder,
    )
    assert result["pretrained"] == ["ecg"] and result["n_train"] == SPLITS["train"] - 1
    saved = torch.load(result["model_path"], weights_only=True)["state_dict"]
    for k, v in enc.state_dict().items():  # frozen: weights and BatchNorm statistics untouched
        assert torch.equal(saved[f"encoders.ecg.{k}"], v), k
    assert not torch.equal(saved["gate.ecg.weight"], torch.zeros_like(saved["gate.ecg.weight"]))
    torch.save({**pre, "sample_shape": [2, 2 * T]}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="shape"):
        fit_fusion(
            _stores(data),
            {"ecg": tmp_path / "bad.pt"},
            cfg,
            tmp_path / "bad",
            0,
            text_encoder=toy_text_encoder,
        )


def test_fusion_training_reports_one_progress_line_per_epoch(
    data: dict, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="climbflow.train.progress_bar"):
        _fit(data, tmp_path / "out", epochs=2)
    lines = [r.getMessage() for r in caplog.records if r.name == "climbflow.train.progress_bar"]
    assert [line.split(",")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]  # before: silent
    steps = int(lines[0].split("step ")[1].split("/")[0])
    assert lines[1].split(", ")[1] == f"step {2 * steps}/{2 * steps}"  # total from max_epochs x batches
    assert all("ETA " in line and "val/" in line for line in lines)
