"""CLIMB's few-shot protocol (climb.md §3.3): k samples per label combination, oversampled to the full size.

Classification: a sample's group is its dataset and its exact target tuple (NaN is its own value), as in
CLIMB's ``FewShotContrastiveLazySupervisedDataset``. Regression: the group is the target rounded to an
integer (CLIMB's fusion few-shot bins length of stay by rounded days).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def group_keys(targets: np.ndarray, tasks: list[str], dataset_index: np.ndarray) -> list[tuple]:
    """One hashable few-shot group per row of ``targets`` (n, V) (unknown columns NaN)."""
    keys = []
    for row, d in zip(targets, dataset_index, strict=True):
        values = np.round(row) if tasks[int(d)] == "regression" else row
        keys.append((int(d), *("nan" if np.isnan(v) else float(v) for v in values)))
    return keys


def few_shot_indices(
    targets: np.ndarray, tasks: list[str], dataset_index: np.ndarray, k: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(chosen, oversampled)``: up to ``k`` seeded picks per group, then cycled to ``len(targets)`` rows.

    ``chosen`` is sorted; ``oversampled`` repeats it in a seeded order until it has as many rows as the input.
    """
    if k < 1:
        raise ValueError(f"few_shot k must be >= 1, got {k}")
    n = len(targets)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, key in enumerate(group_keys(targets, tasks, dataset_index)):
        groups[key].append(i)
    rng = np.random.default_rng([int(seed), int(k)])
    chosen = []
    for key in sorted(groups, key=repr):  # group order independent of row order
        members = np.asarray(groups[key])
        chosen.extend(rng.choice(members, size=min(k, len(members)), replace=False).tolist())
    chosen_arr = np.sort(np.asarray(chosen, dtype=np.int64))
    reps = -(-n // len(chosen_arr))
    oversampled = np.concatenate([rng.permutation(chosen_arr) for _ in range(reps)])[:n]
    return chosen_arr, oversampled
