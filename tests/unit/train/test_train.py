"""Training: store reading, masked multi-task loss, pretrain / finetune on learnable toy stores."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from climbflow.config import FinetuneConfig, PretrainConfig
from climbflow.evaluate.metrics import column_aucs
from climbflow.store.format import StoreReader
from climbflow.train.data import ImageAugment, StoreDataModule, StoreDataset, positive_weights
from climbflow.train.fit import finetune, load_model, predict, pretrain
from climbflow.train.module import MultiTaskModule, masked_multitask_loss
from tests.unit.train.toystores import ENC, T, write_store

SPLITS = {"train": 256, "val": 160, "test": 64}


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> object:
    """Tiny models: one intra-op thread is fastest (and immune to busy shared CPUs)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIMBFLOW_NUM_THREADS", "1")
        yield


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stores")
    ml = ["NORM", "AFIB", "MI"]
    mc = ["NORM", "MI", "LBBB"]
    sig = {"NORM": 0, "AFIB": 1, "MI": 2, "LBBB": 3}
    return {
        "a": write_store(
            root / "a", "ecg_a", "ecg", ml, "multilabel", SPLITS, seed=1, nan_fraction=0.05, signal=sig
        ),
        "b": write_store(root / "b", "ecg_b", "ecg", mc, "multiclass", SPLITS, seed=2, signal=sig),
        "a_shuffled": write_store(
            root / "as", "ecg_as", "ecg", ml, "multilabel", SPLITS, seed=1, shuffle_labels=True, signal=sig
        ),
        "img": write_store(
            root / "img",
            "cxr",
            "image2d",
            ["Atelectasis", "Edema", "Pneumonia"],
            "multilabel",
            {"train": 256, "val": 96, "test": 32},
            seed=3,
        ),
        "bin": write_store(
            root / "bin",
            "ecg_bin",
            "ecg",
            ["AFIB"],
            "binary",
            {"train": 96, "val": 64, "test": 32},
            seed=4,
            signal=sig,
        ),
    }


def _pcfg(epochs: int = 6, **kw) -> PretrainConfig:
    return PretrainConfig(
        epochs=epochs,
        batch_size=32,
        lr=3e-3,
        warmup_steps=4,
        modalities=["ecg", "image2d"],
        encoders={"ecg": ENC, "image2d": ENC},
        **kw,
    )


def _fcfg(mode: str = "full", epochs: int = 5) -> FinetuneConfig:
    lr = 1e-2 if mode == "linear" else 3e-3
    return FinetuneConfig(epochs=epochs, batch_size=32, lr=lr, warmup_steps=4, mode=mode, targets=[])


@pytest.fixture(scope="module")
def pretrained(stores: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("pre")
    return pretrain([stores["a"], stores["b"]], "ecg", _pcfg(), out, seed=0)


# ---------------------------------------------------------------- data


def test_dataset_vocabulary_masks_and_items(stores: dict[str, Path]) -> None:
    ds = StoreDataset([stores["a"], stores["b"]], "train")
    assert ds.vocabulary == ["NORM", "AFIB", "MI", "LBBB"]
    assert ds.valid_mask.tolist() == [[True, True, True, False], [True, False, True, True]]
    assert ds.tasks == ["multilabel", "multiclass"]
    assert len(ds) == 2 * SPLITS["train"]
    x, y, d = ds[0]
    assert x.dtype == torch.float32 and x.shape == (12, T)
    assert y.dtype == torch.float32 and y.shape == (4,) and d == 0 and math.isnan(y[3])
    x, y, d = ds[len(ds) - 1]
    assert d == 1 and math.isnan(y[1]) and float(np.nansum(y.numpy())) == 1.0
    # same values as the store, read through the memory map of the right shard
    reader = StoreReader(stores["b"])
    last = int(reader.split_indices("train")[-1])
    np.testing.assert_array_equal(x.numpy(), reader.sample(last).astype(np.float32))
    assert isinstance(reader.shard(0), np.memmap)


def test_datamodule_loaders(stores: dict[str, Path]) -> None:
    dm = StoreDataModule([stores["a"], stores["b"]], batch_size=32, seed=0)
    dm.setup("fit")
    x, y, d = next(iter(dm.train_dataloader()))
    assert x.shape == (32, 12, T) and y.shape == (32, 4) and d.dtype == torch.long
    assert len(dm.val_dataloader().dataset) == 2 * SPLITS["val"]
    workers = StoreDataModule([stores["a"], stores["b"]], batch_size=32, seed=0, num_workers=1)
    x1, y1, d1 = next(iter(workers.train_dataloader()))  # dataset pickles without its memory maps
    torch.testing.assert_close(x1, x)
    torch.testing.assert_close(y1, y, equal_nan=True)
    first = [next(iter(StoreDataModule([stores["a"]], 32, seed=s).train_dataloader()))[1] for s in (0, 0, 1)]
    torch.testing.assert_close(first[0], first[1], equal_nan=True)
    assert not torch.equal(torch.nan_to_num(first[0]), torch.nan_to_num(first[2]))


def test_image_augment_is_light_and_keeps_laterality() -> None:
    x = np.zeros((1, 64, 64), np.float32)
    x[:, 8:56, 4:28] = 200.0  # a bright image-left half
    aug = ImageAugment()
    outs = [aug(x, np.random.default_rng([0, k])) for k in range(50)]
    assert all(o.shape == x.shape and o.dtype == np.float32 and o.min() >= 0 and o.max() <= 255 for o in outs)
    assert all(o[..., :32].mean() > 3 * o[..., 32:].mean() for o in outs)  # never flipped
    assert any(not np.array_equal(o > 100, x > 100) for o in outs)  # translated
    means = [float(o.mean()) for o in outs]
    assert max(means) - min(means) > 1.0  # brightness / contrast jitter ...
    assert all(abs(m - x.mean()) < 0.1 * 255 for m in means)  # ... but light
    np.testing.assert_array_equal(aug(x, np.random.default_rng([0, 3])), outs[3])  # a function of the stream


def test_augmentation_train_split_only_seeded(stores: dict[str, Path]) -> None:
    raw = StoreDataset([stores["img"]], "train")
    dm = StoreDataModule([stores["img"]], batch_size=32, seed=0, augment=True)
    train, val = dm.dataset("train"), dm.dataset("val")
    assert train.augment is not None and val.augment is None and dm.dataset("test").augment is None
    np.testing.assert_array_equal(val[0][0].numpy(), StoreDataset([stores["img"]], "val")[0][0].numpy())
    first, again = train[0][0], train[0][0]
    assert first.shape == raw[0][0].shape and not torch.equal(first, raw[0][0])
    assert not torch.equal(first, again)  # a fresh draw on every read (epoch)
    torch.testing.assert_close(first, StoreDataset([stores["img"]], "train", augment=True, seed=0)[0][0])
    assert not torch.equal(first, StoreDataset([stores["img"]], "train", augment=True, seed=1)[0][0])
    torch.testing.assert_close(train[0][1], raw[0][1])  # targets untouched
    batches = [
        next(iter(StoreDataModule([stores["img"]], 32, seed=0, augment=True).train_dataloader()))[0]
        for _ in range(2)
    ]
    torch.testing.assert_close(batches[0], batches[1])
    with pytest.raises(ValueError, match="augmentation"):
        StoreDataset([stores["a"]], "train", augment=True)


def test_mixed_modalities_rejected(stores: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="modalities"):
        StoreDataset([stores["a"], stores["img"]], "train")


def test_positive_weights_mask_nan_and_clamp(stores: dict[str, Path]) -> None:
    ds = StoreDataset([stores["a"], stores["b"]], "train")
    pw = positive_weights(ds)
    t = ds.targets[ds.dataset_index == 0][:, :3]
    pos, known = np.nansum(t, 0), (~np.isnan(t)).sum(0)
    np.testing.assert_allclose(pw[0, :3], np.clip((known - pos) / pos, 0.1, 10), rtol=1e-6)
    assert (pw[1] == 1).all() and pw[0, 3] == 1


# ---------------------------------------------------------------- loss


def test_masked_loss_ignores_nan_and_foreign_columns() -> None:
    valid = torch.tensor([[1, 1, 1, 0], [1, 0, 1, 1]], dtype=torch.bool)
    is_mc = torch.tensor([False, True])
    pw = torch.tensor([[2.0, 0.5, 1.0, 1.0], [1.0] * 4])
    nan = float("nan")
    target = torch.tensor([[1, nan, 0, 1], [0, 1, 1, nan], [1, 1, 0, 0], [0, 1, 0, 1]])
    d = torch.tensor([0, 0, 1, 1])
    logits = torch.randn(4, 4, requires_grad=True)
    loss = masked_multitask_loss(logits, target, d, valid, is_mc, pw)
    loss.backward()
    g = logits.grad
    ignored = torch.tensor([[0, 1, 0, 1], [0, 0, 0, 1], [0, 1, 0, 0], [0, 1, 0, 0]], dtype=torch.bool)
    assert (g[ignored] == 0).all() and (g[~ignored] != 0).all()
    # the value: per-sample means, then mean over samples
    lg = logits.detach()
    s0 = F.binary_cross_entropy_with_logits(lg[0, [0, 2]], target[0, [0, 2]], pos_weight=pw[0, [0, 2]])
    s1 = F.binary_cross_entropy_with_logits(lg[1, :3], target[1, :3], pos_weight=pw[0, :3])
    s2 = F.cross_entropy(lg[2:3, [0, 2, 3]], torch.tensor([0]))
    s3 = F.cross_entropy(lg[3:4, [0, 2, 3]], torch.tensor([2]))
    torch.testing.assert_close(loss.detach(), (s0 + s1 + s2 + s3) / 4)


def test_masked_loss_binary_and_unlabelled() -> None:
    valid, is_mc = torch.tensor([[True]]), torch.tensor([False])
    logits = torch.tensor([[0.3], [-1.0]], requires_grad=True)
    loss = masked_multitask_loss(
        logits, torch.tensor([[1.0], [float("nan")]]), torch.tensor([0, 0]), valid, is_mc
    )
    torch.testing.assert_close(
        loss, F.binary_cross_entropy_with_logits(torch.tensor([0.3]), torch.tensor([1.0]))
    )
    loss.backward()
    assert logits.grad[1, 0] == 0
    empty = masked_multitask_loss(
        logits, torch.full((2, 1), float("nan")), torch.tensor([0, 0]), valid, is_mc
    )
    assert float(empty.detach()) == 0.0


def macro_auc(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Mean of the non-degenerate columns' AUCs (what the module logs as ``val/auc/<dataset>``)."""
    return float(np.nanmean(column_aucs(y_true, y_prob)))


# ---------------------------------------------------------------- pretrain / finetune


def test_pretrain_two_datasets_together(pretrained: dict) -> None:
    assert pretrained["vocabulary"] == ["NORM", "AFIB", "MI", "LBBB"]
    assert [d["task"] for d in pretrained["datasets"]] == ["multilabel", "multiclass"]
    m = pretrained["metrics"]
    assert len(pretrained["history"]) == 6 and all(math.isfinite(v) for v in m.values())
    assert m["val/auc"] > 0.8 and m["val/auc/ecg_a"] > 0.8 and m["val/auc/ecg_b"] > 0.8
    assert pretrained["history"][-1]["train/loss"] < pretrained["history"][0]["train/loss"]
    blob = torch.load(pretrained["encoder_path"], weights_only=True)
    assert blob["modality"] == "ecg" and blob["sample_shape"][0] == 12 and blob["encoder"] == ENC.model_dump()
    module = MultiTaskModule.load_from_checkpoint(pretrained["checkpoint_path"])
    assert module.hparams.vocabulary == pretrained["vocabulary"]
    assert module.hparams.datasets[1]["valid_mask"] == [True, False, True, True]
    for k, v in blob["state_dict"].items():
        torch.testing.assert_close(module.encoder.state_dict()[k], v)


def test_finetune_learns_and_predicts(stores: dict[str, Path], pretrained: dict, tmp_path: Path) -> None:
    res = finetune(stores["a"], Path(pretrained["encoder_path"]), _fcfg("full", epochs=3), tmp_path, seed=0)
    assert res["metrics"]["val/auc"] > 0.8, res["history"]
    model = load_model(res["model_path"])
    assert not model.training and model.classes == ["NORM", "AFIB", "MI"] and model.task == "multilabel"
    y_true, y_prob, ids = predict(model, stores["a"], "test", batch_size=16)
    assert y_true.shape == y_prob.shape == (SPLITS["test"], 3) and len(ids) == SPLITS["test"]
    assert np.isnan(y_true).any() and ((y_prob >= 0) & (y_prob <= 1)).all()
    assert macro_auc(y_true, y_prob) > 0.8


def test_finetune_multiclass_softmax(stores: dict[str, Path], pretrained: dict, tmp_path: Path) -> None:
    res = finetune(stores["b"], Path(pretrained["encoder_path"]), _fcfg("linear", epochs=4), tmp_path, seed=0)
    y_true, y_prob, _ = predict(load_model(res["model_path"]), stores["b"], "val", batch_size=64)
    np.testing.assert_allclose(y_prob.sum(1), 1.0, rtol=1e-5)
    assert macro_auc(y_true, y_prob) > 0.8


def test_shuffled_labels_stay_at_chance(stores: dict[str, Path], tmp_path: Path) -> None:
    pre = pretrain([stores["a_shuffled"]], "ecg", _pcfg(), tmp_path / "pre", seed=0)
    res = finetune(
        stores["a_shuffled"], Path(pre["encoder_path"]), _fcfg("full", epochs=3), tmp_path / "ft", seed=0
    )
    assert pre["metrics"]["val/auc"] < 0.65 and res["metrics"]["val/auc"] < 0.65, (
        pre["history"],
        res["history"],
    )


def test_pretrain_is_deterministic(stores: dict[str, Path], tmp_path: Path) -> None:
    runs = [
        pretrain([stores["a"], stores["b"]], "ecg", _pcfg(epochs=1), tmp_path / str(i), seed=7)
        for i in (0, 1)
    ]
    a, b = (torch.load(r["encoder_path"], weights_only=True)["state_dict"] for r in runs)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    other = pretrain([stores["a"], stores["b"]], "ecg", _pcfg(epochs=1), tmp_path / "2", seed=8)
    c = torch.load(other["encoder_path"], weights_only=True)["state_dict"]
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_image2d_pretrain_is_deterministic_with_augmentation(stores: dict[str, Path], tmp_path: Path) -> None:
    runs = [pretrain([stores["img"]], "image2d", _pcfg(epochs=2), tmp_path / str(i), seed=7) for i in (0, 1)]
    a, b = (torch.load(r["encoder_path"], weights_only=True)["state_dict"] for r in runs)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_linear_mode_freezes_encoder(stores: dict[str, Path], pretrained: dict, tmp_path: Path) -> None:
    res = finetune(
        stores["bin"], Path(pretrained["encoder_path"]), _fcfg("linear", epochs=2), tmp_path, seed=0
    )
    enc = torch.load(pretrained["encoder_path"], weights_only=True)["state_dict"]
    model = torch.load(res["model_path"], weights_only=True)
    assert model["task"] == "binary" and model["classes"] == ["AFIB"]
    for k, v in enc.items():  # weights and BatchNorm statistics
        assert torch.equal(model["state_dict"][f"encoder.{k}"], v), k
    assert res["metrics"]["val/auc"] > 0.8


def test_image2d_pretrain_finetune(stores: dict[str, Path], tmp_path: Path) -> None:
    pre = pretrain([stores["img"]], "image2d", _pcfg(epochs=6), tmp_path / "pre", seed=0)
    res = finetune(stores["img"], Path(pre["encoder_path"]), _fcfg("full", epochs=3), tmp_path / "ft", seed=0)
    model = load_model(res["model_path"])
    assert model.modality == "image2d" and model.sample_shape[0] == 1
    y_true, y_prob, _ = predict(model, stores["img"], "test", batch_size=8)
    assert y_prob.shape == (32, 3)
    assert res["metrics"]["val/auc"] > 0.8, res["history"]


def test_modality_mismatch(stores: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not 'image2d'"):
        pretrain([stores["a"]], "image2d", _pcfg(epochs=1), tmp_path, seed=0)
