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

from climbflow.evaluate.metrics import column_aucs
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
    n_known = known.sum(1)
    # every row's loss of every kind, then a select: no data-dependent shapes or branches (no GPU sync)
    pw = pos_weight[dataset_index] if pos_weight is not None else None
    el = F.binary_cross_entropy_with_logits(logits, t, pos_weight=pw, reduction="none")
    bce = (el * known).sum(1) / n_known.clamp(min=1)

    mean = target_mean[dataset_index] if target_mean is not None else torch.zeros_like(t)
    std = target_std[dataset_index] if target_std is not None else torch.ones_like(t)
    se = ((logits - (t - mean) / std).square() * known).sum(1) / n_known.clamp(min=1)

    lg = logits.masked_fill(~valid, _MASKED_LOGIT)
    scores = torch.where(valid & known, t, torch.full_like(lg, -1.0))
    best, cls = scores.max(1)
    ok = (best >= 0.5) & (known == valid).all(1)  # fully labelled with a positive class
    onehot = (torch.arange(lg.shape[1], device=lg.device) == cls[:, None]).to(lg.dtype)
    nll = -(lg.log_softmax(1) * onehot).sum(1)  # no gather/scatter: deterministic on CUDA

    per_sample = torch.where(mc, torch.where(ok, nll, torch.zeros_like(nll)), torch.where(reg, se, bce))
    has = torch.where(mc, ok, n_known > 0)
    return (per_sample * has).sum() / has.sum().clamp(min=1)  # 0 (graph kept) when no sample has a label


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
    per_anchor = -(log_prob * same).sum(1) / n_pos.clamp(min=1)
    return (per_anchor * anchors).sum() / anchors.sum().clamp(min=1)  # no host-side branch (no GPU sync)


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
        self._train_sums: dict[str, torch.Tensor] = {}  # on-device epoch sums, see _accumulate
        self._train_n = 0
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

    def setup(self, stage: str) -> None:
        """On CUDA, 2D conv weights go channels_last (the layout tensor cores want) before DDP wraps them."""
        if self.trainer.strategy.root_device.type == "cuda":
            self.to(memory_format=torch.channels_last)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        x, *rest = batch
        if x.is_cuda and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return (x, *rest)

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
        """One step. Nothing here reads a value back to the host or calls ``self.log``: the epoch means are
        summed on the device and logged once per epoch (a per-step sync stalls the GPU's queue)."""
        x, target, d = batch
        features = self.encoder(x)
        loss = self.loss(self.head(features), target, d)
        if self.contrastive:
            keys, eligible = label_keys(target, d, self.valid_mask, self.is_regression)
            con = supcon_loss(features, keys, eligible, self.contrastive.get("temperature", 0.07))
            self._accumulate("train/contrastive", con, len(x))
            loss = loss + self.contrastive.get("weight", 0.5) * con
        self._accumulate("train/loss", loss, len(x))
        return loss

    def _accumulate(self, key: str, value: torch.Tensor, n: int) -> None:
        """Add ``value * n`` to the epoch sum of ``key`` (a device tensor; no host sync)."""
        total = value.detach().float() * n
        self._train_sums[key] = self._train_sums[key] + total if key in self._train_sums else total
        if key == "train/loss":
            self._train_n += n

    def train_means(self) -> dict[str, float]:
        """This epoch's sample-weighted training means (one host read per key)."""
        return {k: float(v) / max(self._train_n, 1) for k, v in self._train_sums.items()}

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
            per = [a for a in column_aucs(yk, pk) if not math.isnan(a)]
            metrics[f"val/auc/{info['name']}"] = float(np.mean(per)) if per else float("nan")
            aucs.extend(per)
        metrics["val/auc"] = float(np.mean(aucs)) if aucs else float("nan")  # macro over dataset columns
        self._last_val = metrics
        for key, value in metrics.items():
            self.log(key, value, prog_bar=key in ("val/loss", "val/auc"))

    def on_train_epoch_end(self) -> None:
        means = self.train_means()
        for key, value in means.items():
            self.log(key, value)
        row = {"epoch": float(self.current_epoch), "train/loss": means.get("train/loss", 0.0)}
        row.update(self._last_val)
        self.history.append(row)
        logger.debug("epoch %d: %s", self.current_epoch, {k: round(v, 4) for k, v in row.items()})
        self._train_sums, self._train_n, self._last_val = {}, 0, {}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["climbflow_history"] = {
            "history": [dict(r) for r in self.history],
            "train_sums": {k: float(v) for k, v in self._train_sums.items()},
            "train_n": self._train_n,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("climbflow_history")
        if state:
            self.history = [dict(r) for r in state["history"]]
            sums = state.get("train_sums", {"train/loss": state.get("train_sum", 0.0)})
            self._train_sums = {k: torch.tensor(float(v)) for k, v in sums.items()}
            self._train_n = int(state["train_n"])

    def configure_optimizers(self) -> Any:
        o = self.hparams.optim
        params = [p for p in self.parameters() if p.requires_grad]
        fused = self.device.type == "cuda"  # one kernel per update (see configure_gradient_clipping)
        opt = torch.optim.AdamW(params, lr=o["lr"], weight_decay=o["weight_decay"], fused=fused or None)
        total = int(o.get("total_steps") or self.trainer.estimated_stepping_batches)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(o.get("warmup_steps", 0), total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def configure_gradient_clipping(
        self,
        optimizer: Any,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clip the gradient norm directly: precision is fp32 or bf16 (never a loss scaler), so the gradients
        are unscaled, and Lightning's own clipping refuses the fused AdamW under bf16-mixed."""
        if gradient_clip_val:
            params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, float(gradient_clip_val))
