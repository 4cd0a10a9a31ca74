"""DDP over 2 CPU processes (gloo, spawned inside the test): equal models on both ranks, usable checkpoint.

Marked integration: the two spawned interpreters re-import torch and Lightning (tens of seconds on busy CPUs).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from climbflow.config import EncoderConfig, PretrainConfig
from climbflow.train.fit import pretrain
from climbflow.train.module import MultiTaskModule
from tests.unit.train.toystores import write_store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


class SaveRank(pl.Callback):
    """Each rank writes its final weights (module-level: picklable for spawn)."""

    def __init__(self, out: str) -> None:
        self.out = out

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
        torch.save(state, f"{self.out}/rank{trainer.global_rank}.pt")


def test_ddp_two_cpu_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIMBFLOW_NUM_THREADS", "1")
    store = write_store(
        tmp_path / "a", "ecg_a", "ecg", ["A", "B"], "multilabel", {"train": 32, "val": 8}, seed=3
    )
    cfg = PretrainConfig(
        epochs=2,
        batch_size=4,
        lr=3e-3,
        warmup_steps=1,
        checkpoint_every_n_steps=2,
        encoders={"ecg": EncoderConfig(width=4, depth=2, dropout=0.0)},
        devices=2,
        strategy="ddp_spawn",
    )
    out = tmp_path / "out"
    out.mkdir()
    res = pretrain([store], "ecg", cfg, out, seed=0, callbacks=[SaveRank(str(out))])
    assert res["world_size"] == 2 and res["steps"] == 2 * (32 // (4 * 2))  # each step takes 2 x 4 samples
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    params = dict(MultiTaskModule.load_from_checkpoint(res["checkpoint_path"]).named_parameters())
    for k, p in params.items():  # gradients are all-reduced: parameters agree across ranks
        torch.testing.assert_close(r0[k], r1[k])
        torch.testing.assert_close(p.detach(), r0[k])
    assert not torch.equal(r0["head.linear.weight"], torch.zeros_like(r0["head.linear.weight"]))
    blob = torch.load(res["encoder_path"], weights_only=True)
    torch.testing.assert_close(blob["state_dict"]["stem.0.weight"], r0["encoder.stem.0.weight"])
