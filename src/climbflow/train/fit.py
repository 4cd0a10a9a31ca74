"""Pretrain a modality encoder on several stores, finetune it on one, load and apply the result.

Artifacts: ``pretrain`` writes ``encoder.pt`` ({state_dict, encoder, modality, sample_shape, ...}) and
``model.ckpt`` (Lightning checkpoint, self-describing hyperparameters); ``finetune`` writes
``model.pt`` ({state_dict, modality, encoder, classes, task, sample_shape, target_mean, target_std}) loaded
by :func:`load_model`. Runs are deterministic: same seed and inputs give identical weights, and a run
killed mid-epoch resumes exactly from ``<checkpoint_dir>/last.ckpt`` (written every
``checkpoint_every_n_steps``; see :mod:`climbflow.train.resume`). image2d training applies seeded,
label-preserving augmentation to the train split (see :class:`climbflow.train.data.ImageAugment`).
Precision: bf16 autocast on CUDA (``precision: auto``), fp32 on CPU. ``devices`` / ``num_nodes`` /
``strategy`` (pretrain) run DDP; every rank draws its own slice of each global batch.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader

from climbflow.config import EncoderConfig, FinetuneConfig, OptimConfig, PretrainConfig
from climbflow.models import MultiTaskHead, build_encoder
from climbflow.train.data import (
    AUGMENTED_MODALITIES,
    StoreDataModule,
    StoreDataset,
    positive_weights,
    target_stats,
)
from climbflow.train.module import MultiTaskModule
from climbflow.train.progress_bar import TrainProgress
from climbflow.train.resume import ExactResume, resumable_checkpoint, run_fingerprint
from climbflow.train.runtime import device_kind, resolve_precision, set_threads, training_scope

logger = logging.getLogger(__name__)

ENCODER_FILE = "encoder.pt"
CHECKPOINT_FILE = "model.ckpt"
CHECKPOINT_DIR = "checkpoints"
MODEL_FILE = "model.pt"
LOG_EVERY_N_STEPS = 1_000_000  # no logger and nothing logged per step: skip Lightning's per-step metric pass


def build_trainer(
    cfg: OptimConfig,
    callbacks: list[pl.Callback] | None = None,
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
) -> pl.Trainer:
    accelerator = device_kind()
    if strategy.startswith("ddp") and accelerator == "cpu" and devices == "auto":
        devices = 1
    if accelerator == "gpu" and devices == "auto":  # every GPU of the node; several -> DDP (strategy auto)
        devices = torch.cuda.device_count()
    return pl.Trainer(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision=resolve_precision(cfg.precision),  # type: ignore[arg-type]
        max_epochs=-1,  # max_steps (set by _fit) ends the run
        deterministic=True,
        logger=False,
        callbacks=callbacks or [],
        enable_checkpointing=any(isinstance(c, ModelCheckpoint) for c in callbacks or []),
        enable_progress_bar=False,  # TrainProgress (added by _fit) shows progress without per-step cost
        enable_model_summary=False,
        gradient_clip_val=cfg.grad_clip,
        num_sanity_val_steps=0,
        log_every_n_steps=LOG_EVERY_N_STEPS,
        use_distributed_sampler=False,  # the StreamBatchSampler slices batches per rank itself
        sync_batchnorm=accelerator == "gpu" and num_nodes * (devices if isinstance(devices, int) else 1) > 1,
    )


def _optim(cfg: OptimConfig) -> dict[str, Any]:
    return cfg.model_dump(include=set(OptimConfig.model_fields))


def _dataset_dicts(data: StoreDataModule) -> list[dict[str, Any]]:
    """Per-dataset hyperparameters: name, task, classes, valid_mask, train-split pos_weight and the
    regression target's train-split mean / std."""
    train = data.dataset("train")
    pw = positive_weights(train)
    mean, std = target_stats(train)
    return [
        dict(
            info.to_dict(),
            pos_weight=[float(v) for v in pw[d]],
            target_mean=[float(v) for v in mean[d]],
            target_std=[float(v) for v in std[d]],
        )
        for d, info in enumerate(train.datasets)
    ]


def _plan(trainer: pl.Trainer, data: StoreDataModule, cfg: OptimConfig) -> tuple[int, int]:
    """``(steps_per_epoch, total_steps)`` for this trainer's world size."""
    world = int(trainer.num_devices) * int(trainer.num_nodes)
    n = len(data.dataset("train"))
    steps = int(cfg.steps_per_epoch or max(1, n // (cfg.batch_size * world)))
    return steps, steps * int(cfg.epochs)


def _fit(
    module_fn: Any,
    data: StoreDataModule,
    cfg: OptimConfig,
    checkpoint_dir: Path,
    fingerprint: str,
    callbacks: Sequence[pl.Callback] = (),
    devices: int | str = 1,
    num_nodes: int = 1,
    strategy: str = "auto",
) -> tuple[pl.Trainer, MultiTaskModule, dict[str, Any]]:
    """Build the trainer, then the module (``module_fn(total_steps)``), and fit, resuming from
    ``checkpoint_dir/last.ckpt`` when it exists; the checkpoints are removed after a finished run."""
    cbs: list[pl.Callback] = [ExactResume(fingerprint), TrainProgress(), *callbacks]
    if cfg.checkpoint_every_n_steps:
        cbs.append(
            ModelCheckpoint(
                dirpath=checkpoint_dir,
                filename="step-{step}",
                save_top_k=0,
                save_last=True,
                every_n_train_steps=cfg.checkpoint_every_n_steps,
                enable_version_counter=False,
            )
        )
    trainer = build_trainer(cfg, cbs, devices, num_nodes, strategy)
    steps_per_epoch, total = _plan(trainer, data, cfg)
    data.steps_per_epoch = steps_per_epoch
    trainer.fit_loop.epoch_loop.max_steps = total
    module = module_fn(total)
    if isinstance(cfg, PretrainConfig) and cfg.compile:
        module.encoder.compile()  # in place: state_dict keys stay those of the eager encoder
    resume = resumable_checkpoint(checkpoint_dir, fingerprint)
    if resume is not None:
        logger.info("resuming from %s", resume)
    start = time.perf_counter()
    trainer.fit(module, datamodule=data, ckpt_path=resume, weights_only=False)
    seconds = time.perf_counter() - start
    if module.history:
        last = {k: v for k, v in module.history[-1].items() if k != "epoch"}
    else:  # ddp_spawn: the history stayed in the workers; rank 0's logged metrics came back
        last = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
    metrics = {k: float(v) for k, v in last.items()}
    result = {
        "metrics": metrics,
        "history": module.history,
        "seconds": seconds,
        "steps": int(total),
        "steps_per_epoch": int(steps_per_epoch),
        "resumed_from": str(resume) if resume else None,
        "precision": str(trainer.precision),
        "world_size": int(trainer.num_devices) * int(trainer.num_nodes),
    }
    return trainer, module, result


def _fingerprint(kind: str, stores: Sequence[Path], cfg: OptimConfig, seed: int, *extra: Any) -> str:
    """What a resumable checkpoint must match (checkpoint cadence and loader workers may change)."""
    run_cfg = cfg.model_dump(mode="json", exclude={"checkpoint_every_n_steps", "num_workers", "compile"})
    return run_fingerprint(kind, [str(Path(s).resolve()) for s in stores], run_cfg, seed, *extra)


def _datamodule(
    stores: Sequence[Path], modality: str, cfg: OptimConfig, seed: int, **kw: Any
) -> StoreDataModule:
    return StoreDataModule(
        stores,
        cfg.batch_size,
        seed,
        num_workers=cfg.num_workers,
        augment=modality in AUGMENTED_MODALITIES,
        steps_per_epoch=cfg.steps_per_epoch,
        sampling=cfg.sampling,
        alpha=cfg.sampling_alpha,
        **kw,
    )


def _finish(checkpoint_dir: Path, keep: bool) -> None:
    if not keep and checkpoint_dir.exists():
        shutil.rmtree(checkpoint_dir, ignore_errors=True)


def pretrain(
    store_paths: list[Path],
    modality: str,
    cfg: PretrainConfig,
    out_dir: Path,
    seed: int,
    checkpoint_dir: Path | None = None,
    keep_checkpoints: bool = False,
    callbacks: Sequence[pl.Callback] = (),
    exclude_train: Collection[str] = (),
) -> dict[str, Any]:
    """Multi-task training of one modality's encoder on the train splits, validated on the val splits.

    Writes ``out_dir/encoder.pt`` and ``out_dir/model.ckpt``; returns metrics (last epoch:
    ``train/loss``, ``val/loss``, ``val/auc``, ``val/auc/<dataset>``, ``val/mae/<regression dataset>``),
    history, paths and vocabulary. Resumes from ``checkpoint_dir/last.ckpt`` (default
    ``out_dir/checkpoints``) when present; the checkpoints are removed at the end unless ``keep_checkpoints``.
    ``callbacks`` are extra Lightning callbacks (tests, monitoring); ``exclude_train``: sample ids never
    trained on (held-out patients, see :mod:`climbflow.stages.pretrain`).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else out_dir / CHECKPOINT_DIR
    set_threads()
    with training_scope():
        pl.seed_everything(seed, workers=True, verbose=False)
        data = _datamodule(store_paths, modality, cfg, seed, exclude_train=exclude_train)
        if data.info.modality != modality:
            raise ValueError(
                f"stores are {data.info.modality!r}, not {modality!r}: {[str(p) for p in store_paths]}"
            )
        enc_cfg = cfg.encoders.get(modality, EncoderConfig())  # type: ignore[call-overload]
        datasets = _dataset_dicts(data)
        contrastive = (
            {"weight": cfg.contrastive_weight, "temperature": cfg.contrastive_temperature}
            if cfg.contrastive
            else None
        )

        def build(total_steps: int) -> MultiTaskModule:
            return MultiTaskModule(
                modality=modality,
                encoder=enc_cfg.model_dump(),
                sample_shape=list(data.info.sample_shape),
                vocabulary=data.vocabulary,
                datasets=datasets,
                optim=dict(_optim(cfg), total_steps=total_steps),
                contrastive=contrastive,
            )

        logger.info(
            "pretrain %s on %s: vocabulary %s, %d train / %d val samples",
            modality,
            [d["name"] for d in datasets],
            data.vocabulary,
            len(data.dataset("train")),
            len(data.dataset("val")),
        )
        held_out = [sorted(exclude_train)] if exclude_train else []
        fp = _fingerprint("pretrain", store_paths, cfg, seed, modality, *held_out)
        trainer, module, result = _fit(
            build, data, cfg, checkpoint_dir, fp, callbacks, cfg.devices, cfg.num_nodes, cfg.strategy
        )
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
        _save_checkpoint(trainer, module, ckpt_path)
        _finish(checkpoint_dir, keep_checkpoints)
    logger.info("pretrain %s done in %.1fs: %s", modality, result["seconds"], result["metrics"])
    return {
        "modality": modality,
        "vocabulary": data.vocabulary,
        "datasets": [{k: d[k] for k in ("name", "task", "classes")} for d in datasets],
        "n_train": len(data.dataset("train")),
        "n_val": len(data.dataset("val")),
        "encoder_path": str(encoder_path),
        "checkpoint_path": str(ckpt_path),
        "seed": seed,
        **result,
    }


def _save_checkpoint(trainer: pl.Trainer, module: MultiTaskModule, path: Path) -> None:
    """The final Lightning checkpoint; after ddp_spawn (no process group here) a module-only one."""
    if trainer.world_size > 1 and not torch.distributed.is_initialized():
        torch.save(
            {
                "state_dict": module.state_dict(),
                "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": pl.__version__,
                "global_step": trainer.global_step,
                "epoch": trainer.current_epoch,
            },
            path,
        )
        return
    trainer.save_checkpoint(path)


def finetune(
    store_path: Path,
    encoder_path: Path,
    cfg: FinetuneConfig,
    out_dir: Path,
    seed: int,
    checkpoint_dir: Path | None = None,
    keep_checkpoints: bool = False,
    callbacks: Sequence[pl.Callback] = (),
) -> dict[str, Any]:
    """Train a new head (``mode="linear"``: frozen encoder) or everything (``"full"``) on one store.

    ``cfg.few_shot = k`` trains on ``k`` train samples per label combination (per rounded target for
    regression), oversampled back to the train-set size (CLIMB's protocol); the seed and the selection
    size are recorded under ``few_shot``. Writes ``out_dir/model.pt``; returns metrics (last epoch),
    history and paths. Resumes like :func:`pretrain`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else out_dir / CHECKPOINT_DIR
    set_threads()
    pre = torch.load(encoder_path, map_location="cpu", weights_only=True)
    with training_scope():
        pl.seed_everything(seed, workers=True, verbose=False)
        data = _datamodule([store_path], pre["modality"], cfg, seed, few_shot=cfg.few_shot)
        if data.info.modality != pre["modality"] or list(data.info.sample_shape) != list(pre["sample_shape"]):
            raise ValueError(
                f"{store_path}: {data.info.modality} samples of shape {list(data.info.sample_shape)} do not match "
                f"the encoder ({pre['modality']}, shape {list(pre['sample_shape'])}) in {encoder_path}"
            )
        datasets = _dataset_dicts(data)

        def build(total_steps: int) -> MultiTaskModule:
            module = MultiTaskModule(
                modality=pre["modality"],
                encoder=pre["encoder"],
                sample_shape=pre["sample_shape"],
                vocabulary=data.vocabulary,
                datasets=datasets,
                optim=dict(_optim(cfg), total_steps=total_steps),
                freeze_encoder=cfg.mode == "linear",
            )
            module.encoder.load_state_dict(pre["state_dict"])
            return module

        info = datasets[0]
        logger.info(
            "finetune (%s) %s from %s: %d train / %d val samples",
            cfg.mode,
            info["name"],
            encoder_path,
            len(data.dataset("train")),
            len(data.dataset("val")),
        )
        fp = _fingerprint("finetune", [store_path], cfg, seed, str(Path(encoder_path).resolve()))
        _, module, result = _fit(build, data, cfg, checkpoint_dir, fp, callbacks)
        _finish(checkpoint_dir, keep_checkpoints)
    model_path = out_dir / MODEL_FILE
    classifier = Classifier(
        module.encoder,
        module.head,
        pre["modality"],
        pre["encoder"],
        info["classes"],
        info["task"],
        pre["sample_shape"],
        target_mean=info["target_mean"],
        target_std=info["target_std"],
    )
    torch.save(classifier.to_dict(), model_path)
    few_shot = None
    if cfg.few_shot:
        few_shot = {
            "k": int(cfg.few_shot),
            "seed": int(seed),
            "n_selected": len(data.few_shot_ids),
            "selected_ids": list(data.few_shot_ids),
        }
    logger.info("finetune %s done in %.1fs: %s", info["name"], result["seconds"], result["metrics"])
    return {
        "dataset": info["name"],
        "task": info["task"],
        "classes": info["classes"],
        "mode": cfg.mode,
        "few_shot": few_shot,
        "seed": seed,
        "n_train": len(data.dataset("train")),
        "n_val": len(data.dataset("val")),
        "model_path": str(model_path),
        **result,
    }


class Classifier(nn.Module):
    """A finetuned model: encoder + head, ``forward(x) -> logits (B, len(classes))``.

    Regression models output the standardized target; :meth:`predict_values` maps it back to original
    units with the train split's ``target_mean`` / ``target_std``.
    """

    def __init__(
        self,
        encoder: nn.Module,
        head: MultiTaskHead,
        modality: str,
        encoder_cfg: dict[str, Any],
        classes: list[str],
        task: str,
        sample_shape: Sequence[int],
        target_mean: Sequence[float] | None = None,
        target_std: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head
        self.modality, self.encoder_cfg = modality, dict(encoder_cfg)
        self.classes, self.task = list(classes), task
        self.sample_shape = [int(d) for d in sample_shape]
        C = len(self.classes)
        self.target_mean = [float(v) for v in target_mean] if target_mean is not None else [0.0] * C
        self.target_std = [float(v) for v in target_std] if target_std is not None else [1.0] * C

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def predict_values(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities (softmax for multiclass, sigmoid otherwise) or regression values in original units."""
        out = self(x).float()
        if self.task == "regression":
            mean = torch.tensor(self.target_mean, device=out.device)
            return mean + torch.tensor(self.target_std, device=out.device) * out
        return out.softmax(1) if self.task == "multiclass" else out.sigmoid()

    def to_dict(self) -> dict[str, Any]:
        return {
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
            "modality": self.modality,
            "encoder": self.encoder_cfg,
            "classes": self.classes,
            "task": self.task,
            "sample_shape": self.sample_shape,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }


def load_model(path: Path | str) -> Classifier:
    """Load ``model.pt`` written by :func:`finetune`: a CPU model in eval mode that outputs logits."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    encoder = build_encoder(blob["modality"], blob["encoder"], blob["sample_shape"])
    head = MultiTaskHead(encoder.out_dim, len(blob["classes"]))
    model = Classifier(
        encoder,
        head,
        blob["modality"],
        blob["encoder"],
        blob["classes"],
        blob["task"],
        blob["sample_shape"],
        target_mean=blob.get("target_mean"),
        target_std=blob.get("target_std"),
    )
    model.load_state_dict(blob["state_dict"])
    return model.eval()


@torch.no_grad()
def predict(
    model: Classifier, store_path: Path | str, split: str, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(y_true (n, C) with NaN, y_prob (n, C), sample_ids)`` over the model's classes for one split.

    ``y_prob``: softmax for multiclass, sigmoid for multilabel and binary; for regression the predicted
    value in the target's original units (``y_true`` holds the raw targets).
    """
    ds = StoreDataset([store_path], split, vocabulary=model.classes)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    probs = []
    for x, _, _ in DataLoader(ds, batch_size=batch_size, shuffle=False):
        probs.append(model.predict_values(x.to(device)).cpu().numpy())
    model.train(was_training)
    y_prob = np.concatenate(probs) if probs else np.zeros((0, len(model.classes)), np.float32)
    return ds.targets.copy(), y_prob, list(ds.sample_ids)
