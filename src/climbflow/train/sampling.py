"""Stateless-by-construction batch sampling over several datasets: exact resume and DDP without extra state.

The train stream is a pure function of ``(seed, global step)``: global step ``g`` of sampler epoch
``e = g // steps_per_epoch`` takes the ``g % steps_per_epoch``-th global batch of epoch ``e``'s draw, seeded
by ``(seed, e)``; each of ``world_size`` ranks takes its own contiguous ``batch_size`` slice of that global
batch. A fresh iterator starts at the step that ``step_source()`` (the trainer's ``global_step``) names and
runs to the end of its epoch, so a run resumed from a mid-epoch checkpoint sees exactly the batches an
uninterrupted run would have seen. Items are ``(index, draw)`` pairs; ``draw`` (the position in the stream)
keys per-draw randomness such as augmentation.

Modes: ``"shuffle"`` (CLIMB): all datasets concatenated and permuted per epoch (further permutations are
appended when an epoch needs more samples than there are). ``"temperature"``: each draw picks dataset ``d``
with ``p_d ∝ n_d ** alpha`` (``alpha=1`` proportional, ``0`` uniform), then the next sample of that dataset's
own seeded permutation cycle, so small datasets are not drowned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
from torch.utils.data import Sampler

SamplingMode = Literal["shuffle", "temperature"]


def dataset_probabilities(counts: np.ndarray, alpha: float) -> np.ndarray:
    """``p_d ∝ n_d ** alpha`` over datasets with samples (empty datasets get 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    w = np.where(counts > 0, np.power(np.maximum(counts, 1.0), float(alpha)), 0.0)
    if w.sum() <= 0:
        raise ValueError("no dataset has samples")
    return w / w.sum()


def _cycle(rng: np.random.Generator, items: np.ndarray, n: int) -> np.ndarray:
    """``n`` items from back-to-back seeded permutations of ``items``."""
    reps = -(-n // len(items))
    return np.concatenate([rng.permutation(items) for _ in range(reps)])[:n]


class StreamBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(index, draw)`` for one rank; a fixed ``steps_per_epoch`` batches per epoch."""

    def __init__(
        self,
        dataset_index: np.ndarray,
        batch_size: int,
        seed: int,
        steps_per_epoch: int | None = None,
        mode: SamplingMode = "shuffle",
        alpha: float = 0.5,
        rank: int = 0,
        world_size: int = 1,
        step_source: Callable[[], int] | None = None,
    ) -> None:
        self.dataset_index = np.asarray(dataset_index, dtype=np.int64)
        n = len(self.dataset_index)
        if n == 0:
            raise ValueError("cannot sample from an empty split")
        if mode not in ("shuffle", "temperature"):
            raise ValueError(f"sampling mode {mode!r}; allowed: ['shuffle', 'temperature']")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        self.batch_size, self.seed, self.mode, self.alpha = int(batch_size), int(seed), mode, float(alpha)
        self.rank, self.world_size = int(rank), int(world_size)
        self.global_batch = self.batch_size * self.world_size
        self.steps_per_epoch = int(steps_per_epoch or max(1, n // self.global_batch))
        self.step_source = step_source
        self._epoch = 0
        self._cache: tuple[int, np.ndarray] | None = None
        counts = np.bincount(self.dataset_index)
        self.probabilities = dataset_probabilities(counts, self.alpha)
        self._members = [np.flatnonzero(self.dataset_index == d) for d in range(len(counts))]

    def __len__(self) -> int:
        return self.steps_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Used only without a ``step_source`` (Lightning calls it every epoch)."""
        self._epoch = int(epoch)

    def epoch_indices(self, epoch: int) -> np.ndarray:
        """The global draw of sampler epoch ``epoch``: ``steps_per_epoch * global_batch`` indices."""
        if self._cache is not None and self._cache[0] == epoch:
            return self._cache[1]
        size = self.steps_per_epoch * self.global_batch
        rng = np.random.default_rng([self.seed, epoch])
        if self.mode == "shuffle":
            idx = _cycle(rng, np.arange(len(self.dataset_index)), size)
        else:
            which = rng.choice(len(self.probabilities), size=size, p=self.probabilities)
            idx = np.empty(size, dtype=np.int64)
            for d, members in enumerate(self._members):
                slots = np.flatnonzero(which == d)
                if len(slots):
                    idx[slots] = _cycle(rng, members, len(slots))
        self._cache = (epoch, idx)
        return idx

    def batch(self, step: int) -> list[tuple[int, int]]:
        """This rank's ``(index, draw)`` pairs of global step ``step``."""
        epoch, k = divmod(int(step), self.steps_per_epoch)
        start = k * self.global_batch + self.rank * self.batch_size
        idx = self.epoch_indices(epoch)[start : start + self.batch_size]
        first = int(step) * self.global_batch + self.rank * self.batch_size
        return [(int(i), first + j) for j, i in enumerate(idx)]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        start = self.step_source() if self.step_source is not None else self._epoch * self.steps_per_epoch
        end = (start // self.steps_per_epoch + 1) * self.steps_per_epoch
        for step in range(start, end):
            yield self.batch(step)
