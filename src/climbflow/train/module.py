"""Lightning module for multi-task training over a modality vocabulary, and its masked loss.

Each sample's loss uses only its dataset's valid vocabulary columns: multilabel -> BCE-with-logits
with per-dataset ``pos_weight`` (NaN targets masked), multiclass -> cross-entropy over the valid
columns, binary -> BCE-with-logits. The batch loss is the mean over samples that have any label.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from climbflow.models import MultiTaskHead, build_encoder

logger = logging.getLogger(__name__)

_MASKED_LOGIT = -1.0e4  # finite (half-precision safe) stand-in for -inf outside a dataset's columns


def masked_multitask_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    dataset_index: torch.Tensor,
    valid_mask: torch.Tensor,
    is_multiclass: torch.Tensor,
    pos_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean per-sample loss; NaN targets and columns outside a sample's dataset give no gradient.

    Shapes: ``logits``/``target`` (B, V), ``dataset_index`` (B,) long, ``valid_mask`` (D, V) bool,
    ``is_multiclass`` (D,) bool, ``pos_weight`` (D, V) or None.
    """
    logits = logits.float()
    valid = valid_mask[dataset_index]  # (B, V)
    known = valid & ~torch.isnan(target)
    t = torch.nan_to_num(target, nan=0.0)
    mc = is_multiclass[dataset_index]
    per_sample = logits.new_zeros(logits.shape[0])
    has = torch.zeros_like(mc)

    bce_rows = (~mc).nonzero(as_tuple=True)[0]
    if bce_rows.numel():
        pw = pos_weight[dataset_index[bce_rows]] if pos_weight is not None else None
        el = F.binary_cross_entropy_with_logits(
            logits[bce_rows], t[bce_rows], pos_weight=pw, reduction="none"
        )
        k = known[bce_rows]
        n = k.sum(1)
        per_sample = per_sample.index_put((bce_rows,), (el * k).sum(1) / n.clamp(min=1))
        has = has.index_put((bce_rows,), n > 0)

    mc_rows = mc.nonzero(as_tuple=True)[0]
    if mc_rows.numel():
        v = valid[mc_rows]
        lg = logits[mc_rows].masked_fill(~v, _MASKED_LOGIT)
        scores = torch.where(v & known[mc_rows], t[mc_rows], torch.full_like(lg, -1.0))
        best, cls = scores.max(1)
        ok = (best >= 0.5) & (known[mc_rows] == v).all(1)  # fully labelled with a positive class
        onehot = F.one_hot(cls, lg.shape[1]).to(lg.dtype)
        nll = -(lg.log_softmax(1) * onehot).sum(1)  # no gather/scatter: deterministic on CUDA
        per_sample = per_sample.index_put((mc_rows,), torch.where(ok, nll, torch.zeros_like(nll)))
        has = has.index_put((mc_rows,), ok)

    n_has = has.sum()
    if n_has == 0:
        return logits.sum() * 0.0  # keeps the graph; no labels in this batch
    return (per_sample * has).sum() / n_has


def probabilities(
    logits: torch.Tensor, dataset_index: torch.Tensor, valid_mask: torch.Tensor, is_multiclass: torch.Tensor
) -> torch.Tensor:
    """Sigmoid per column (multilabel/binary) or softmax over the dataset's valid columns (multiclass)."""
    logits = logits.float()
    valid = valid_mask[dataset_index]
    soft = logits.masked_fill(~valid, _MASKED_LOGIT).softmax(1)
    return torch.where(is_multiclass[dataset_index][:, None], soft, logits.sigmoid())


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Binary ROC AUC (Mann-Whitney with tie-averaged ranks); NaN when one class is missing."""
    y_true = np.asarray(y_true, dtype=bool)
    n_pos = int(y_true.sum())
    n_neg = y_true.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(
        np.asarray(y_score, dtype=np.float64), return_inverse=True, return_counts=True
    )
    upper = np.cumsum(counts)  # 1-based rank of the last member of each tie group
    r = (upper - (counts - 1) / 2.0)[inverse]  # tie-averaged ranks
    return float((r[y_true].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def macro_auc(y_true: np.ndarray, y_prob: np.ndarray) -> tuple[float, list[float]]:
    """Macro AUC over columns, skipping NaN targets and degenerate columns; (macro, per column)."""
    per = []
    for c in range(y_true.shape[1]):
        keep = ~np.isnan(y_true[:, c])
        per.append(roc_auc(y_true[keep, c] >= 0.5, y_prob[keep, c]) if keep.any() else float("nan"))
    finite = [a for a in per if not math.isnan(a)]
    return (float(np.mean(finite)) if finite else float("nan")), per


class WarmupCosine:
    """LR factor: linear warmup over ``warmup`` steps, then cosine decay to 0 at ``total`` steps."""

    def __init__(self, warmup: int, total: int) -> None:
        self.warmup, self.total = int(warmup), max(int(total), 1)

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        span = max(self.total - self.warmup, 1)
        progress = min((step - self.warmup) / span, 1.0)
        return 0.5 * (1.0 + math.cos(math.pi * progress))


class MultiTaskModule(pl.LightningModule):
    """Encoder + linear head over the vocabulary, trained with :func:`masked_multitask_loss`.

    All constructor arguments are plain data and saved as hyperparameters, so a checkpoint holds the
    modality, encoder config, vocabulary and each dataset's name, task, classes and column mask.
    ``datasets``: dicts with ``name``, ``task``, ``classes``, ``valid_mask`` (V bools) and optionally
    ``pos_weight`` (V floats). ``optim``: OptimConfig fields (lr, weight_decay, warmup_steps, ...).
    """

    def __init__(
        self,
        modality: str,
        encoder: dict[str, Any],
        sample_shape: Sequence[int],
        vocabulary: Sequence[str],
        datasets: Sequence[dict[str, Any]],
        optim: dict[str, Any],
        freeze_encoder: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.encoder = build_encoder(modality, encoder, tuple(sample_shape))
        self.head = MultiTaskHead(self.encoder.out_dim, len(vocabulary))
        self.vocabulary = list(vocabulary)
        V = len(self.vocabulary)
        self.register_buffer(
            "valid_mask", torch.tensor([d["valid_mask"] for d in datasets], dtype=torch.bool)
        )
        self.register_buffer(
            "is_multiclass", torch.tensor([d["task"] == "multiclass" for d in datasets], dtype=torch.bool)
        )
        pw = [d.get("pos_weight") or [1.0] * V for d in datasets]
        self.register_buffer("pos_weight", torch.tensor(pw, dtype=torch.float32))
        self.freeze_encoder = bool(freeze_encoder)
        if self.freeze_encoder:
            self.encoder.requires_grad_(False)
            self.encoder.eval()
        self.history: list[dict[str, float]] = []
        self._train_sum, self._train_n = 0.0, 0
        self._val: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self._last_val: dict[str, float] = {}

    def train(self, mode: bool = True) -> MultiTaskModule:
        """Keeps a frozen encoder in eval mode (BatchNorm statistics and dropout stay fixed)."""
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    def on_train_epoch_start(self) -> None:
        if self.freeze_encoder:  # Lightning restores captured per-module modes; enforce it regardless
            self.encoder.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))

    def loss(self, logits: torch.Tensor, target: torch.Tensor, dataset_index: torch.Tensor) -> torch.Tensor:
        return masked_multitask_loss(
            logits, target, dataset_index, self.valid_mask, self.is_multiclass, self.pos_weight
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, target, d = batch
        loss = self.loss(self(x), target, d)
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=len(x))
        self._train_sum += float(loss.detach()) * len(x)
        self._train_n += len(x)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, target, d = batch
        self._val.append((self(x).detach().float().cpu(), target.cpu(), d.cpu()))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        logits, target, d = (torch.cat(t) for t in zip(*self._val, strict=True))
        self._val.clear()
        mask, mc, pw = self.valid_mask.cpu(), self.is_multiclass.cpu(), self.pos_weight.cpu()
        val_loss = float(masked_multitask_loss(logits, target, d, mask, mc, pw))
        prob = probabilities(logits, d, mask, mc).numpy()
        y = target.numpy().copy()
        y[~mask[d].numpy()] = np.nan
        metrics = {"val/loss": val_loss}
        aucs = []
        for k, info in enumerate(self.hparams.datasets):
            rows = (d == k).numpy()
            if rows.any():
                auc, per = macro_auc(y[rows][:, mask[k].numpy()], prob[rows][:, mask[k].numpy()])
                metrics[f"val/auc/{info['name']}"] = auc
                aucs.extend(a for a in per if not math.isnan(a))
        metrics["val/auc"] = float(np.mean(aucs)) if aucs else float("nan")  # macro over dataset columns
        self._last_val = metrics
        for key, value in metrics.items():
            self.log(key, value, prog_bar=key in ("val/loss", "val/auc"))

    def on_train_epoch_end(self) -> None:
        row = {"epoch": float(self.current_epoch), "train/loss": self._train_sum / max(self._train_n, 1)}
        row.update(self._last_val)
        self.history.append(row)
        logger.info("epoch %d: %s", self.current_epoch, {k: round(v, 4) for k, v in row.items()})
        self._train_sum, self._train_n, self._last_val = 0.0, 0, {}

    def configure_optimizers(self) -> Any:
        o = self.hparams.optim
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=o["lr"], weight_decay=o["weight_decay"])
        total = int(self.trainer.estimated_stepping_batches)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(o.get("warmup_steps", 0), total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
