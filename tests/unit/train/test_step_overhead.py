"""The pretrain step does no per-step host work (no device->host reads, no per-step ``self.log``), and the
training progress shows one line per epoch off a terminal without redrawing every step."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from climbflow.config import PretrainConfig
from climbflow.train.fit import pretrain
from climbflow.train.module import MultiTaskModule
from climbflow.train.progress_bar import TrainProgress, eta, format_eta
from tests.unit.train.toystores import ENC, write_store

EPOCHS, STEPS = 2, 6


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIMBFLOW_NUM_THREADS", "1")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("overhead")
    splits = {"train": 96, "val": 48, "test": 8}
    return write_store(root / "a", "ecg_a", "ecg", ["NORM", "AFIB"], "multilabel", splits, seed=1)


def _cfg(**kw) -> PretrainConfig:
    base = dict(epochs=EPOCHS, steps_per_epoch=STEPS, batch_size=16, warmup_steps=1)
    base["checkpoint_every_n_steps"] = 0
    return PretrainConfig(encoders={"ecg": ENC}, **{**base, **kw})


def _module(contrastive: dict | None) -> MultiTaskModule:
    ds = [{"name": "a", "task": "multilabel", "classes": ["x", "y"], "valid_mask": [True, True]}]
    optim = {"lr": 1e-3, "weight_decay": 0}
    return MultiTaskModule("ecg", ENC.model_dump(), [12, 500], ["x", "y"], ds, optim, contrastive=contrastive)


@pytest.mark.parametrize("contrastive", [None, {"weight": 0.5, "temperature": 0.07}])
def test_training_step_reads_nothing_back_to_the_host(monkeypatch: pytest.MonkeyPatch, contrastive) -> None:
    """A per-step ``float(loss)``, ``.item()`` or ``if tensor:`` waits for the GPU every step: none may."""
    module = _module(contrastive)
    reads = []
    monkeypatch.setattr(torch.Tensor, "__float__", lambda t: reads.append("float") or t.tolist())
    monkeypatch.setattr(torch.Tensor, "item", lambda t: reads.append("item") or t.tolist())
    monkeypatch.setattr(torch.Tensor, "__bool__", lambda t: reads.append("bool") or bool(t.tolist()))
    batch = (torch.randn(4, 12, 500), torch.tensor([[1.0, 0.0]] * 4), torch.zeros(4, dtype=torch.long))
    loss = module.training_step(batch, 0)
    assert loss.ndim == 0 and reads == []


class _Spy(pl.Callback):
    """Independent record of what the trainer saw: every step's loss and batch size."""

    def __init__(self) -> None:
        self.losses: list[list[tuple[float, int]]] = []

    def on_train_epoch_start(self, trainer, module) -> None:  # noqa: ANN001
        self.losses.append([])

    def on_train_batch_end(self, trainer, module, outputs, batch, i) -> None:  # noqa: ANN001
        self.losses[-1].append((float(outputs["loss"]), len(batch[0])))


def test_logs_once_per_epoch_and_epoch_loss_is_the_step_mean(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = MultiTaskModule.log

    def log(self, key, *args, **kwargs):  # noqa: ANN001, ANN202
        calls.append(key)
        return original(self, key, *args, **kwargs)

    monkeypatch.setattr(MultiTaskModule, "log", log)
    spy = _Spy()
    out = pretrain([store], "ecg", _cfg(), tmp_path / "out", seed=0, callbacks=[spy])
    assert calls.count("train/loss") == EPOCHS  # not once per step (EPOCHS * STEPS)
    for row, steps in zip(out["history"], spy.losses, strict=True):
        mean = sum(v * n for v, n in steps) / sum(n for _, n in steps)
        assert len(steps) == STEPS
        assert row["train/loss"] == pytest.approx(mean, rel=1e-5)


def test_off_a_terminal_one_progress_line_per_epoch(
    store: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="climbflow.train.progress_bar"):
        pretrain([store], "ecg", _cfg(), tmp_path / "out", seed=0)
    lines = [r.getMessage() for r in caplog.records if r.name == "climbflow.train.progress_bar"]
    assert len(lines) == EPOCHS
    assert lines[0].startswith(f"epoch 1/{EPOCHS}, step {STEPS}/{EPOCHS * STEPS}, ")
    assert lines[1].startswith(f"epoch 2/{EPOCHS}, step {EPOCHS * STEPS}/{EPOCHS * STEPS}, ")
    for line in lines:
        assert "ETA " in line and "train/loss " in line and "val/auc " in line
    assert lines[-1].split("ETA ")[1].startswith("0s")


class _CountingBar(TrainProgress):
    draws = 0

    def _draw(self, trainer: pl.Trainer) -> None:
        type(self).draws += 1
        super()._draw(trainer)


def test_terminal_bar_redraws_at_its_rate_not_every_step(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bar = _CountingBar(interactive=True, refresh_s=3600.0)
    pretrain([store], "ecg", _cfg(), tmp_path / "out", seed=0, callbacks=[bar])
    assert capsys.readouterr().out == ""  # the bar is drawn on stderr: stdout stays machine-readable
    assert _CountingBar.draws == 1 + EPOCHS  # first step, then once per epoch end: not 12 step redraws
    assert bar._bar is None  # stopped at the end


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.4, "0s"), (42, "42s"), (185, "3m05s"), (3725, "1h02m"), (float("nan"), "?")]
)
def test_format_eta(seconds: float, text: str) -> None:
    assert format_eta(seconds) == text


def test_eta_is_remaining_steps_at_the_mean_rate() -> None:
    assert eta(10, 40, 5.0) == pytest.approx(15.0)
    assert eta(0, 40, 0.0) != eta(0, 40, 0.0)  # NaN before the first step


def test_compile_is_a_pretrain_option_that_does_not_change_the_resume_fingerprint(store: Path) -> None:
    from climbflow.train.fit import _fingerprint

    eager, compiled = _cfg(), _cfg(compile=True)
    assert compiled.compile and not eager.compile
    assert _fingerprint("pretrain", [store], eager, 0) == _fingerprint("pretrain", [store], compiled, 0)
    assert _fingerprint("pretrain", [store], eager, 0) != _fingerprint("pretrain", [store], _cfg(lr=0.01), 0)
