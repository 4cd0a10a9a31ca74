"""Live training progress: an epoch/step bar with ETA and the last validation metric on a terminal, one
log line per epoch otherwise (pipelines, CI). Reads only host-side counters (never a device tensor during
the epoch) and redraws at most every ``refresh_s`` seconds, so it costs no step time."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import pytorch_lightning as pl

logger = logging.getLogger(__name__)

SHOWN_METRICS = ("val/auc", "val/macro_auc", "val/loss")  # the first one present is shown next to the bar


def format_eta(seconds: float) -> str:
    """``1h02m``, ``3m05s``, ``42s``; ``?`` when unknown."""
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def eta(done: int, total: int, elapsed: float) -> float:
    """Seconds left at the mean rate so far (NaN before the first step)."""
    return (total - done) * elapsed / done if done > 0 else float("nan")


class TrainProgress(pl.Callback):
    """Epoch/step progress of a fit. ``interactive`` (default: stderr is a terminal) draws a rich bar;
    otherwise one INFO line per finished epoch: step, elapsed, ETA, train loss, last validation metric."""

    def __init__(self, interactive: bool | None = None, refresh_s: float = 0.5) -> None:
        self.interactive = sys.stderr.isatty() if interactive is None else bool(interactive)
        self.refresh_s = float(refresh_s)
        self._start = self._next_draw = 0.0
        self._first_step = 0
        self._bar: Any = None
        self._task: Any = None
        self.lines: list[str] = []  # the non-interactive lines, also kept for callers and tests

    def _total(self, trainer: pl.Trainer) -> int:
        """The fit's step budget: ``max_steps``, else ``max_epochs`` x batches per epoch (0 when unknown)."""
        if trainer.max_steps and trainer.max_steps > 0:
            return int(trainer.max_steps)
        per_epoch = trainer.num_training_batches
        if trainer.max_epochs and trainer.max_epochs > 0 and isinstance(per_epoch, int) and per_epoch > 0:
            return int(trainer.max_epochs) * per_epoch
        return 0

    def _epochs(self, trainer: pl.Trainer) -> int:
        per_epoch = trainer.num_training_batches
        total = self._total(trainer)
        if not total or not isinstance(per_epoch, int) or per_epoch <= 0:
            return 0
        return -(-total // per_epoch)

    def _metric(self, trainer: pl.Trainer) -> str:
        for key in SHOWN_METRICS:
            value = trainer.callback_metrics.get(key)
            if value is not None:
                return f"{key} {float(value):.4f}"
        return ""

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank != 0:
            return
        self._start, self._first_step = time.monotonic(), int(trainer.global_step)
        if self.interactive:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[metric]}"),
                console=Console(file=sys.stderr),  # stdout stays machine-readable
                transient=True,
                auto_refresh=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                "train", total=self._total(trainer) or None, completed=trainer.global_step, metric=""
            )

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any) -> None:
        if self._bar is None:
            return
        now = time.monotonic()
        if now < self._next_draw:
            return
        self._next_draw = now + self.refresh_s
        self._draw(trainer)

    def _draw(self, trainer: pl.Trainer) -> None:
        epochs = self._epochs(trainer)
        desc = f"epoch {trainer.current_epoch + 1}" + (f"/{epochs}" if epochs else "")
        metric = self._metric(trainer)
        self._bar.update(self._task, completed=trainer.global_step, description=desc, metric=metric)
        self._bar.refresh()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_rank != 0:
            return
        if self._bar is not None:
            self._draw(trainer)
            return
        done, total = int(trainer.global_step), self._total(trainer)
        elapsed = time.monotonic() - self._start
        left = eta(done - self._first_step, total - self._first_step, elapsed)
        epochs = self._epochs(trainer)
        means = getattr(pl_module, "train_means", None)  # this epoch's means (module hooks run after ours)
        loss = means().get("train/loss") if means is not None else trainer.callback_metrics.get("train/loss")
        parts = [
            f"epoch {trainer.current_epoch + 1}" + (f"/{epochs}" if epochs else ""),
            f"step {done}/{total}" if total else f"step {done}",
            f"{elapsed:.1f}s elapsed",
            f"ETA {format_eta(left)}",
        ]
        if loss is not None:
            parts.append(f"train/loss {float(loss):.4f}")
        if metric := self._metric(trainer):
            parts.append(metric)
        line = ", ".join(parts)
        self.lines.append(line)
        logger.info("%s", line)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exc: BaseException) -> None:
        self.on_train_end(trainer, pl_module)
