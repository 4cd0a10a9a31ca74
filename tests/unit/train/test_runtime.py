"""The training runtime shared by every trainer: accelerator, threads, and the scope around a Trainer."""

from __future__ import annotations

import warnings

import pytest
import torch

from climbflow.train import fit, fusion
from climbflow.train.runtime import THREADS_ENV, device_kind, set_threads, training_scope


def test_threads_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(THREADS_ENV, "2")
        set_threads()
        assert torch.get_num_threads() == 2
        monkeypatch.setenv(THREADS_ENV, "0")  # at least one thread
        set_threads()
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_scope_restores_the_determinism_flag_and_quiets_lightning_hints() -> None:
    assert not torch.are_deterministic_algorithms_enabled()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with training_scope():
            torch.use_deterministic_algorithms(True)  # what Trainer(deterministic=True) does
            warnings.warn(
                "The dataloader does not have many workers which may be a bottleneck.", stacklevel=1
            )
            warnings.warn("something else", stacklevel=1)
    assert not torch.are_deterministic_algorithms_enabled()
    assert [str(w.message) for w in seen] == ["something else"]


def test_both_trainers_share_the_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_kind() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device_kind() == "gpu"
    assert fit.training_scope is fusion.training_scope is training_scope
    assert fit.set_threads is fusion.set_threads is set_threads
