"""Pretrain a modality encoder on several stores, finetune it on one, load and apply the result.

Artifacts: ``pretrain`` writes ``encoder.pt`` ({state_dict, encoder, modality, sample_shape, ...}) and
``model.ckpt`` (Lightning checkpoint, self-describing hyperparameters); ``finetune`` writes
``model.pt`` ({state_dict, modality, encoder, classes, task, sample_shape, ...}) loaded by :func:`load_model`.
Runs are deterministic: same seed and inputs give identical weights. image2d training applies seeded,
label-preserving augmentation to the train split (see :class:`climbflow.train.data.ImageAugment`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from climbflow.config import EncoderConfig, FinetuneConfig, OptimConfig, PretrainConfig
from climbflow.models import MultiTaskHead, build_encoder
from climbflow.train.data import AUGMENTED_MODALITIES, StoreDataModule, StoreDataset, positive_weights
from climbflow.train.module import MultiTaskModule

logger = logging.getLogger(__name__)

ENCODER_FILE = "encoder.pt"
CHECKPOINT_FILE = "model.ckpt"
MODEL_FILE = "model.pt"
MAX_CPU_THREADS = 8
THREADS_ENV = "CLIMBFLOW_NUM_THREADS"  # small models on shared CPUs train faster on 1 thread


def _device_kind() -> str:
    return "gpu" if torch.cuda.is_available() else "cpu"


def _set_threads() -> None:
    """Intra-op threads: ``$CLIMBFLOW_NUM_THREADS`` if set, else the CPUs this process may use (at most 8)."""
    if os.environ.get(THREADS_ENV):
        torch.set_num_threads(max(1, int(os.environ[THREADS_ENV])))
        return
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    torch.set_num_threads(max(1, min(n, MAX_CPU_THREADS)))


@contextmanager
def _training_scope() -> Iterator[None]:
    """Restore torch's global determinism flag after the Trainer sets it; quiet known Lightning hints."""
    was = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
        warnings.filterwarnings("ignore", message=".*Total length of .* across ranks is zero.*")
        warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode at the start of training.*")
        warnings.filterwarnings("ignore", message=".*isinstance\\(treespec, LeafSpec\\).*")
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was, warn_only=warn_only)


def _trainer(cfg: OptimConfig) -> pl.Trainer:
    return pl.Trainer(
        accelerator=_device_kind(),
        devices=1,
        max_epochs=cfg.epochs,
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=sys.stderr.isatty(),
        enable_model_summary=False,
        gradient_clip_val=cfg.grad_clip,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
    )


def _optim(cfg: OptimConfig) -> dict[str, Any]:
    return cfg.model_dump(include=set(OptimConfig.model_fields))


def _dataset_dicts(data: StoreDataModule) -> list[dict[str, Any]]:
    """Per-dataset hyperparameters: name, task, classes, valid_mask and train-split pos_weight."""
    train = data.dataset("train")
    pw = positive_weights(train)
    return [
        dict(info.to_dict(), pos_weight=[float(v) for v in pw[d]]) for d, info in enumerate(train.datasets)
    ]


def _fit(
    module: MultiTaskModule, data: StoreDataModule, cfg: OptimConfig
) -> tuple[pl.Trainer, dict[str, Any]]:
    trainer = _trainer(cfg)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data)
    seconds = time.perf_counter() - start
    last = module.history[-1] if module.history else {}
    metrics = {k: float(v) for k, v in last.items() if k != "epoch"}
    return trainer, {"metrics": metrics, "history": module.history, "seconds": seconds}


def pretrain(
    store_paths: list[Path], modality: str, cfg: PretrainConfig, out_dir: Path, seed: int
) -> dict[str, Any]:
    """Multi-task training of one modality's encoder on the train splits, validated on the val splits.

    Writes ``out_dir/encoder.pt`` and ``out_dir/model.ckpt``; returns metrics (last epoch:
    ``train/loss``, ``val/loss``, ``val/auc`` and ``val/auc/<dataset>``), history, paths and vocabulary.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _set_threads()
    with _training_scope():
        pl.seed_everything(seed, workers=True)
        data = StoreDataModule(store_paths, cfg.batch_size, seed, augment=modality in AUGMENTED_MODALITIES)
        if data.info.modality != modality:
            raise ValueError(
                f"stores are {data.info.modality!r}, not {modality!r}: {[str(p) for p in store_paths]}"
            )
        enc_cfg = cfg.encoders.get(modality, EncoderConfig())  # type: ignore[call-overload]
        datasets = _dataset_dicts(data)
        module = MultiTaskModule(
            modality=modality,
            encoder=enc_cfg.model_dump(),
            sample_shape=list(data.info.sample_shape),
            vocabulary=data.vocabulary,
            datasets=datasets,
            optim=_optim(cfg),
        )
        logger.info(
            "pretrain %s on %s: vocabulary %s, %d train / %d val samples",
            modality,
            [d["name"] for d in datasets],
            data.vocabulary,
            len(data.dataset("train")),
            len(data.dataset("val")),
        )
        trainer, result = _fit(module, data, cfg)
        encoder_path, ckpt_path = out_dir / ENCODER_FILE, out_dir / CHECKPOINT_FILE
        torch.save(
            {
                "state_dict": {k: v.detach().cpu() for k, v in module.encoder.state_dict().items()},
                "encoder": enc_cfg.model_dump(),
                "modality": modality,
                "sample_shape": list(data.info.sample_shape),
                "vocabulary": data.vocabulary,
                "datasets": [d["name"] for d in datasets],
            },
            encoder_path,
        )
        trainer.save_checkpoint(ckpt_path)
    logger.info("pretrain %s done in %.1fs: %s", modality, result["seconds"], result["metrics"])
    return {
        "modality": modality,
        "vocabulary": data.vocabulary,
        "datasets": [{k: d[k] for k in ("name", "task", "classes")} for d in datasets],
        "n_train": len(data.dataset("train")),
        "n_val": len(data.dataset("val")),
        "encoder_path": str(encoder_path),
        "checkpoint_path": str(ckpt_path),
        **result,
    }


def finetune(
    store_path: Path, encoder_path: Path, cfg: FinetuneConfig, out_dir: Path, seed: int
) -> dict[str, Any]:
    """Train a new head (``mode="linear"``: frozen encoder) or everything (``"full"``) on one store.

    Writes ``out_dir/model.pt``; returns metrics (last epoch), history and paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _set_threads()
    pre = torch.load(encoder_path, map_location="cpu", weights_only=True)
    with _training_scope():
        pl.seed_everything(seed, workers=True)
        augment = pre["modality"] in AUGMENTED_MODALITIES
        data = StoreDataModule([store_path], cfg.batch_size, seed, augment=augment)
        if data.info.modality != pre["modality"] or list(data.info.sample_shape) != list(pre["sample_shape"]):
            raise ValueError(
                f"{store_path}: {data.info.modality} samples of shape {list(data.info.sample_shape)} do not match "
                f"the encoder ({pre['modality']}, shape {list(pre['sample_shape'])}) in {encoder_path}"
            )
        datasets = _dataset_dicts(data)
        module = MultiTaskModule(
            modality=pre["modality"],
            encoder=pre["encoder"],
            sample_shape=pre["sample_shape"],
            vocabulary=data.vocabulary,
            datasets=datasets,
            optim=_optim(cfg),
            freeze_encoder=cfg.mode == "linear",
        )
        module.encoder.load_state_dict(pre["state_dict"])
        info = datasets[0]
        logger.info(
            "finetune (%s) %s from %s: %d train / %d val samples",
            cfg.mode,
            info["name"],
            encoder_path,
            len(data.dataset("train")),
            len(data.dataset("val")),
        )
        _, result = _fit(module, data, cfg)
    model_path = out_dir / MODEL_FILE
    classifier = Classifier(
        module.encoder,
        module.head,
        pre["modality"],
        pre["encoder"],
        info["classes"],
        info["task"],
        pre["sample_shape"],
    )
    torch.save(classifier.to_dict(), model_path)
    logger.info("finetune %s done in %.1fs: %s", info["name"], result["seconds"], result["metrics"])
    return {
        "dataset": info["name"],
        "task": info["task"],
        "classes": info["classes"],
        "mode": cfg.mode,
        "n_train": len(data.dataset("train")),
        "n_val": len(data.dataset("val")),
        "model_path": str(model_path),
        **result,
    }


class Classifier(nn.Module):
    """A finetuned model: encoder + head, ``forward(x) -> logits (B, len(classes))``."""

    def __init__(
        self,
        encoder: nn.Module,
        head: MultiTaskHead,
        modality: str,
        encoder_cfg: dict[str, Any],
        classes: list[str],
        task: str,
        sample_shape: Sequence[int],
    ) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head
        self.modality, self.encoder_cfg = modality, dict(encoder_cfg)
        self.classes, self.task = list(classes), task
        self.sample_shape = [int(d) for d in sample_shape]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def to_dict(self) -> dict[str, Any]:
        return {
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "modality": self.modality,
            "encoder": self.encoder_cfg,
            "classes": self.classes,
            "task": self.task,
            "sample_shape": self.sample_shape,
        }


def load_model(path: Path | str) -> Classifier:
    """Load ``model.pt`` written by :func:`finetune`: a CPU model in eval mode that outputs logits."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    encoder = build_encoder(blob["modality"], blob["encoder"], blob["sample_shape"])
    head = MultiTaskHead(encoder.out_dim, len(blob["classes"]))
    model = Classifier(
        encoder, head, blob["modality"], blob["encoder"], blob["classes"], blob["task"], blob["sample_shape"]
    )
    model.load_state_dict(blob["state_dict"])
    return model.eval()


@torch.no_grad()
def predict(
    model: Classifier, store_path: Path | str, split: str, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(y_true (n, C) with NaN, y_prob (n, C), sample_ids)`` over the model's classes for one split.

    Probabilities: softmax for multiclass, sigmoid for multilabel and binary.
    """
    ds = StoreDataset([store_path], split, vocabulary=model.classes)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    probs = []
    for x, _, _ in DataLoader(ds, batch_size=batch_size, shuffle=False):
        logits = model(x.to(device)).float()
        probs.append((logits.softmax(1) if model.task == "multiclass" else logits.sigmoid()).cpu().numpy())
    model.train(was_training)
    y_prob = np.concatenate(probs) if probs else np.zeros((0, len(model.classes)), np.float32)
    return ds.targets.copy(), y_prob, list(ds.sample_ids)
