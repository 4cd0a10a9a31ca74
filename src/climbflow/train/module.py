"""Lightning module for multi-task training over a modality vocabulary, and its masked losses.

Each sample's loss uses only its dataset's valid vocabulary columns: multilabel / binary -> BCE-with-logits
with per-dataset ``pos_weight`` (NaN targets masked), multiclass -> cross-entropy over the valid columns,
regression -> MSE on the target standardized with the train split's mean / std. The batch loss is the
mean over samples that have any label. Optionally CLIMB's supervised-contrastive term is added
(:func:`supcon_loss`: positives share the label tuple, across datasets too).
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
    is_regression: torch.Tensor | None = None,
    target_mean: torch.Tensor | None = None,
    target_std: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean per-sample loss; NaN targets and columns outside a sample's dataset give no gradient.

    Shapes: ``logits``/``target`` (B, V), ``dataset_index`` (B,) long, ``valid_mask`` (D, V) bool,
    ``is_multiclass`` / ``is_regression`` (D,) bool, ``pos_weight`` / ``target_mean`` / ``target_std``
    (D, V) or None. Regression rows: MSE of the output against ``(target - mean) / std``.
    """
    logits = logits.float()
    valid = valid_mask[dataset_index]  # (B, V)
    known = valid & ~torch.isnan(target)
    t = torch.nan_to_num(target, nan=0.0)
    mc = is_multiclass[dataset_index]
    reg = is_regression[dataset_index] if is_regression is not None else torch.zeros_like(mc)
    per_sample = logits.new_zeros(logits.shape[0])
    has = torch.zeros_like(mc)

    bce_rows = (~mc & ~reg).nonzero(as_tuple=True)[0]
    if bce_rows.numel():
        pw = pos_weight[dataset_index[bce_rows]] if pos_weight is not None else None
        el = F.binary_cross_entropy_with_logits(
            logits[bce_rows], t[bce_rows], pos_weight=pw, reduction="none"
        )
        k = known[bce_rows]
        n = k.sum(1)
        per_sample = per_sample.index_put((bce_rows,), (el * k).sum(1) / n.clamp(min=1))
        has = has.index_put((bce_rows,), n > 0)

    reg_rows = reg.nonzero(as_tuple=True)[0]
    if reg_rows.numel():
        d = dataset_index[reg_rows]
        mean = target_mean[d] if target_mean is not None else torch.zeros_like(t[reg_rows])
        std = target_std[d] if target_std is not None else torch.ones_like(t[reg_rows])
        z = (t[reg_rows] - mean) / std
        k = known[reg_rows]
        n = k.sum(1)
        se = (logits[reg_rows] - z).square() * k
        per_sample = per_sample.index_put((reg_rows,), se.sum(1) / n.clamp(min=1))
        has = has.index_put((reg_rows,), n > 0)

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


def label_keys(
    target: torch.Tensor, dataset_index: torch.Tensor, valid_mask: torch.Tensor, is_regression: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(keys (B, V) bool, eligible (B,) bool)``: each sample's label tuple as its set of positive
    vocabulary columns (comparable across datasets that share class names), and whether it has one:
    classification samples whose valid columns are all known."""
    valid = valid_mask[dataset_index]
    keys = (torch.nan_to_num(target, nan=0.0) >= 0.5) & valid
    complete = (~torch.isnan(target) | ~valid).all(1)
    return keys, complete & ~is_regression[dataset_index]


def supcon_loss(
    features: torch.Tensor, keys: torch.Tensor, eligible: torch.Tensor, temperature: float = 0.07
) -> torch.Tensor:
    """Supervised-contrastive loss (Khosla et al.), CLIMB's auxiliary term.

    ``features`` (B, F) are L2-normalised; for anchor ``i`` the positives are the other eligible samples
    with the identical label tuple ``keys[i]`` (B, V) bool; all other samples are negatives. The loss is
    ``-mean_p log softmax_{a != i}(z_i . z_a / tau)_p``, averaged over anchors that have a positive
    (0 with the graph kept when none has).
    """
    z = F.normalize(features.float(), dim=1)
    B = z.shape[0]
    sim = z @ z.t() / float(temperature)
    eye = torch.eye(B, dtype=torch.bool, device=z.device)
    same = (keys[:, None, :] == keys[None, :, :]).all(-1) & eligible[:, None] & eligible[None, :] & ~eye
    log_prob = sim - sim.masked_fill(eye, float("-inf")).logsumexp(1, keepdim=True)
    n_pos = same.sum(1)
    anchors = n_pos > 0
    if not bool(anchors.any()):
        return features.sum() * 0.0
    per_anchor = -(log_prob * same).sum(1) / n_pos.clamp(min=1)
    return per_anchor[anchors].mean()


def probabilities(
    logits: torch.Tensor,
    dataset_index: torch.Tensor,
    valid_mask: torch.Tensor,
    is_multiclass: torch.Tensor,
    is_regression: torch.Tensor | None = None,
    target_mean: torch.Tensor | None = None,
    target_std: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sigmoid per column (multilabel/binary), softmax over the dataset's valid columns (multiclass), or
    the prediction in original units ``mean + std * output`` (regression)."""
    logits = logits.float()
    valid = valid_mask[dataset_index]
    soft = logits.masked_fill(~valid, _MASKED_LOGIT).softmax(1)
    out = torch.where(is_multiclass[dataset_index][:, None], soft, logits.sigmoid())
    if is_regression is not None and target_mean is not None and target_std is not None:
        value = target_mean[dataset_index] + target_std[dataset_index] * logits
        out = torch.where(is_regression[dataset_index][:, None], value, out)
    return out


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
    ``pos_weight``, ``target_mean``, ``target_std`` (V floats each). ``optim``: OptimConfig fields (lr,
    weight_decay, warmup_steps, ...) and optionally ``total_steps`` (the cosine schedule's length).
    ``contrastive``: ``{"weight": 0.5, "temperature": 0.07}`` adds :func:`supcon_loss`; None = off.
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
        contrastive: dict[str, float] | None = None,
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
        self.register_buffer(
            "is_regression", torch.tensor([d["task"] == "regression" for d in datasets], dtype=torch.bool)
        )
        pw = [d.get("pos_weight") or [1.0] * V for d in datasets]
        self.register_buffer("pos_weight", torch.tensor(pw, dtype=torch.float32))
        mean = [d.get("target_mean") or [0.0] * V for d in datasets]
        std = [d.get("target_std") or [1.0] * V for d in datasets]
        self.register_buffer("target_mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(std, dtype=torch.float32))
        self.contrastive = dict(contrastive) if contrastive else None
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
            logits,
            target,
            dataset_index,
            self.valid_mask,
            self.is_multiclass,
            self.pos_weight,
            self.is_regression,
            self.target_mean,
            self.target_std,
        )

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, target, d = batch
        features = self.encoder(x)
        loss = self.loss(self.head(features), target, d)
        if self.contrastive:
            keys, eligible = label_keys(target, d, self.valid_mask, self.is_regression)
            con = supcon_loss(features, keys, eligible, self.contrastive.get("temperature", 0.07))
            self.log("train/contrastive", con, on_step=False, on_epoch=True, batch_size=len(x))
            loss = loss + self.contrastive.get("weight", 0.5) * con
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
        buffers = (self.valid_mask, self.is_multiclass, self.pos_weight, self.is_regression)
        mask, mc, pw, reg = (b.cpu() for b in buffers)
        mean, std = self.target_mean.cpu(), self.target_std.cpu()
        val_loss = float(masked_multitask_loss(logits, target, d, mask, mc, pw, reg, mean, std))
        prob = probabilities(logits, d, mask, mc, reg, mean, std).numpy()
        y = target.numpy().copy()
        y[~mask[d].numpy()] = np.nan
        metrics = {"val/loss": val_loss}
        aucs = []
        for k, info in enumerate(self.hparams.datasets):
            rows = (d == k).numpy()
            if not rows.any():
                continue
            yk, pk = y[rows][:, mask[k].numpy()], prob[rows][:, mask[k].numpy()]
            if info["task"] == "regression":
                known = ~np.isnan(yk)
                metrics[f"val/mae/{info['name']}"] = (
                    float(np.abs(yk - pk)[known].mean()) if known.any() else float("nan")
                )
                continue
            auc, per = macro_auc(yk, pk)
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

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["climbflow_history"] = {
            "history": [dict(r) for r in self.history],
            "train_sum": self._train_sum,
            "train_n": self._train_n,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("climbflow_history")
        if state:
            self.history = [dict(r) for r in state["history"]]
            self._train_sum, self._train_n = float(state["train_sum"]), int(state["train_n"])

    def configure_optimizers(self) -> Any:
        o = self.hparams.optim
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=o["lr"], weight_decay=o["weight_decay"])
        total = int(o.get("total_steps") or self.trainer.estimated_stepping_batches)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(o.get("warmup_steps", 0), total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
