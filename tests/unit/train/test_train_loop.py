"""Regression and contrastive losses, exact resume, regression / few-shot finetuning, precision, config."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import yaml

from climbflow import config
from climbflow.config import EncoderConfig, FinetuneConfig, PretrainConfig
from climbflow.store.format import StoreReader
from climbflow.train.data import StoreDataset, describe_stores, target_stats
from climbflow.train.fit import finetune, load_model, predict, pretrain, resolve_precision
from climbflow.train.module import label_keys, masked_multitask_loss, supcon_loss
from climbflow.train.resume import rng_state, set_rng_state
from tests.unit.train.toystores import write_store

TINY = EncoderConfig(width=4, depth=2, dropout=0.3)  # dropout: the RNG state matters for exact resume


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> object:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIMBFLOW_NUM_THREADS", "1")
        yield


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stores")
    sig = {"NORM": 0, "MI": 2, "LBBB": 3, "age": 1}
    return {
        "reg": write_store(
            root / "reg",
            "ecg_age",
            "ecg",
            ["age"],
            "regression",
            {"train": 160, "val": 48, "test": 48},
            5,
            signal=sig,
        ),
        "mc": write_store(
            root / "mc",
            "ecg_mc",
            "ecg",
            ["NORM", "MI", "LBBB"],
            "multiclass",
            {"train": 96, "val": 48, "test": 16},
            6,
            signal=sig,
        ),
        "img": write_store(
            root / "img", "cxr", "image2d", ["A", "B"], "multilabel", {"train": 48, "val": 16, "test": 8}, 3
        ),
    }


# ---------------------------------------------------------------- losses


def test_regression_loss_is_mse_on_the_standardized_target() -> None:
    valid = torch.tensor([[True, False], [False, True]])
    is_mc, is_reg = torch.tensor([False, False]), torch.tensor([False, True])
    mean, std = torch.tensor([[0.0, 0.0], [0.0, 50.0]]), torch.tensor([[1.0, 1.0], [1.0, 10.0]])
    nan = float("nan")
    target = torch.tensor([[1.0, nan], [nan, 70.0], [nan, nan]])
    d = torch.tensor([0, 1, 1])
    logits = torch.tensor([[0.5, 9.0], [3.0, 1.5], [0.0, 4.0]], requires_grad=True)
    loss = masked_multitask_loss(logits, target, d, valid, is_mc, None, is_reg, mean, std)
    bce = F.binary_cross_entropy_with_logits(torch.tensor(0.5), torch.tensor(1.0))
    torch.testing.assert_close(loss.detach(), (bce + (1.5 - 2.0) ** 2) / 2)  # the unlabelled row is skipped
    loss.backward()
    assert logits.grad[1, 0] == 0 and logits.grad[0, 1] == 0 and (logits.grad[2] == 0).all()


def test_target_stats_from_the_train_split(stores: dict[str, Path]) -> None:
    ds = StoreDataset([stores["reg"], stores["mc"]], "train")
    assert ds.vocabulary == ["age", "NORM", "MI", "LBBB"] and ds.tasks == ["regression", "multiclass"]
    mean, std = target_stats(ds)
    y = np.stack(StoreReader(stores["reg"]).manifest.query("split == 'train'")["target"].to_numpy())[:, 0]
    np.testing.assert_allclose([mean[0, 0], std[0, 0]], [y.mean(), y.std()], rtol=1e-5)
    assert (mean[1] == 0).all() and (std[1] == 1).all() and (std[0, 1:] == 1).all()


def test_class_cannot_be_regression_and_classification(tmp_path: Path) -> None:
    a = write_store(tmp_path / "a", "a", "ecg", ["age"], "regression", {"train": 4})
    b = write_store(tmp_path / "b", "b", "ecg", ["age"], "binary", {"train": 4})
    with pytest.raises(ValueError, match="regression target here but a classification"):
        describe_stores([b, a])


def test_supcon_positives_share_the_label_tuple_across_datasets() -> None:
    nan = float("nan")
    valid = torch.tensor([[True, True, False], [True, True, True], [False, False, True]])
    is_reg = torch.tensor([False, False, True])
    target = torch.tensor([[1, 0, nan], [1, 0, 0], [0, 1, nan], [nan, 0, nan], [nan, nan, 42.0]])
    d = torch.tensor([0, 1, 0, 0, 2])
    keys, eligible = label_keys(target, d, valid, is_reg)
    assert eligible.tolist() == [True, True, True, False, False]  # unknown label, regression
    z = torch.randn(5, 8, requires_grad=True)
    loss = supcon_loss(z, keys, eligible, temperature=0.07)
    # only samples 0 and 1 (same positive set {col 0}, different datasets) are positives of each other
    zn = F.normalize(z.detach(), dim=1)
    sim = zn @ zn.t() / 0.07
    expected = []
    for i, p in ((0, 1), (1, 0)):
        others = [a for a in range(5) if a != i]
        expected.append(-(sim[i, p] - torch.logsumexp(sim[i, others], 0)))
    torch.testing.assert_close(loss.detach(), torch.stack(expected).mean())
    loss.backward()
    assert z.grad.abs().sum() > 0
    none = supcon_loss(z, keys, torch.zeros(5, dtype=torch.bool))
    assert float(none.detach()) == 0.0


# ---------------------------------------------------------------- exact resume


def test_rng_state_roundtrip() -> None:
    state = rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


class _Kill(pl.Callback):
    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        if trainer.global_step == self.at:
            raise RuntimeError("killed")


def test_killed_run_resumes_bit_identical(stores: dict[str, Path], tmp_path: Path) -> None:
    """image2d (seeded augmentation) + dropout + contrastive + temperature sampling; 3 epochs of 4 steps,
    a checkpoint every 3 steps, killed after step 7 -> resumed from the mid-epoch checkpoint of step 6."""
    cfg = PretrainConfig(
        epochs=3,
        batch_size=8,
        steps_per_epoch=4,
        lr=3e-3,
        warmup_steps=2,
        checkpoint_every_n_steps=3,
        encoders={"image2d": TINY},
        contrastive=True,
        sampling="temperature",
    )
    full = pretrain([stores["img"]], "image2d", cfg, tmp_path / "full", seed=1)
    assert full["steps"] == 12 and full["resumed_from"] is None
    assert not (tmp_path / "full" / "checkpoints").exists()  # removed after a finished run
    with pytest.raises(RuntimeError, match="killed"):
        pretrain([stores["img"]], "image2d", cfg, tmp_path / "res", seed=1, callbacks=[_Kill(7)])
    last = tmp_path / "res" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 6
    with pytest.raises(ValueError, match="another run"):
        pretrain([stores["img"]], "image2d", cfg, tmp_path / "res", seed=2)
    res = pretrain([stores["img"]], "image2d", cfg, tmp_path / "res", seed=1)
    assert res["resumed_from"] == str(last)
    a = torch.load(full["checkpoint_path"], weights_only=False)["state_dict"]
    b = torch.load(res["checkpoint_path"], weights_only=False)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [h["epoch"] for h in res["history"]] == [0.0, 1.0, 2.0]
    assert res["metrics"] == full["metrics"]


# ---------------------------------------------------------------- regression and few-shot finetuning


def test_regression_pretrain_finetune_predicts_original_units(
    stores: dict[str, Path], tmp_path: Path
) -> None:
    enc = EncoderConfig(width=8, depth=3, dropout=0.0)
    pre = pretrain(
        [stores["reg"], stores["mc"]],
        "ecg",
        PretrainConfig(epochs=4, batch_size=16, lr=3e-3, warmup_steps=4, encoders={"ecg": enc}),
        tmp_path / "pre",
        seed=0,
    )
    assert "val/mae/ecg_age" in pre["metrics"] and "val/auc/ecg_mc" in pre["metrics"]
    fcfg = FinetuneConfig(epochs=4, batch_size=16, lr=3e-3, warmup_steps=4, targets=[])
    res = finetune(stores["reg"], Path(pre["encoder_path"]), fcfg, tmp_path / "ft", seed=0)
    assert res["task"] == "regression" and res["few_shot"] is None
    model = load_model(res["model_path"])
    y = np.stack(StoreReader(stores["reg"]).manifest.query("split == 'train'")["target"].to_numpy())[:, 0]
    assert model.target_mean[0] == pytest.approx(y.mean(), rel=1e-5)
    y_true, y_pred, _ = predict(model, stores["reg"], "test")
    assert y_pred.shape == (48, 1)
    assert np.corrcoef(y_true[:, 0], y_pred[:, 0])[0, 1] > 0.7  # learned
    assert abs(float(y_pred.mean()) - float(y_true.mean())) < 8  # in original units (20..80)
    assert float(np.abs(y_true - y_pred).mean()) < 0.6 * float(np.abs(y_true - y_true.mean()).mean())


def test_few_shot_finetune_records_selection(stores: dict[str, Path], tmp_path: Path) -> None:
    enc = EncoderConfig(width=4, depth=2, dropout=0.0)
    pre = pretrain(
        [stores["mc"]],
        "ecg",
        PretrainConfig(epochs=1, batch_size=16, encoders={"ecg": enc}),
        tmp_path / "p",
        0,
    )
    fcfg = FinetuneConfig(epochs=1, batch_size=16, few_shot=2, mode="linear", targets=[])
    res = finetune(stores["mc"], Path(pre["encoder_path"]), fcfg, tmp_path / "ft", seed=3)
    fs = res["few_shot"]
    assert fs["k"] == 2 and fs["seed"] == 3 and fs["n_selected"] == 6 and len(set(fs["selected_ids"])) == 6
    assert res["n_train"] == 96 and res["steps"] == 96 // 16  # oversampled back to the train-set size
    labels = StoreReader(stores["mc"]).manifest.set_index("sample_id").loc[fs["selected_ids"], "target"]
    assert sorted(int(np.argmax(t)) for t in labels) == [0, 0, 1, 1, 2, 2]
    again = finetune(stores["mc"], Path(pre["encoder_path"]), fcfg, tmp_path / "ft2", seed=3)
    assert again["few_shot"]["selected_ids"] == fs["selected_ids"]


# ---------------------------------------------------------------- precision and config


def test_precision_is_fp32_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_precision("auto") == "32-true" and resolve_precision("bf16-mixed") == "32-true"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_precision("auto") == "bf16-mixed" and resolve_precision("32-true") == "32-true"


def test_params_yaml_training_sections() -> None:
    data = yaml.safe_load((Path(__file__).parents[3] / "params.yaml").read_text())
    pre, fine = (
        PretrainConfig.model_validate(data["pretrain"]),
        FinetuneConfig.model_validate(data["finetune"]),
    )
    assert pre.sampling == "shuffle" and pre.steps_per_epoch is None and pre.precision == "auto"
    assert pre.contrastive is False and pre.devices == 1 and pre.num_nodes == 1 and pre.strategy == "auto"
    assert pre.contrastive_weight == 0.5 and pre.contrastive_temperature == 0.07
    assert fine.few_shot is None and fine.mode == "full"
    with pytest.raises(config.ConfigError, match="pretrain.sampling"):
        config.parse({"datasets": {}, "pretrain": {"sampling": "balanced"}})
    with pytest.raises(config.ConfigError, match="finetune.few_shot"):
        config.parse({"datasets": {}, "finetune": {"targets": [], "few_shot": 0}})
    assert config.parse({"datasets": {}, "finetune": {"targets": [], "few_shot": 8}}).finetune.few_shot == 8
