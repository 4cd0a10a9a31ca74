"""Dataset sampling (shuffle / temperature, step-keyed resume, DDP slices) and the few-shot protocol."""

from __future__ import annotations

import numpy as np
import pytest

from climbflow.train.fewshot import few_shot_indices
from climbflow.train.sampling import StreamBatchSampler, dataset_probabilities


def _index(sizes: list[int]) -> np.ndarray:
    return np.concatenate([np.full(n, d) for d, n in enumerate(sizes)])


def _flat(batches: list[list[tuple[int, int]]]) -> list[int]:
    return [i for b in batches for i, _ in b]


def test_shuffle_epoch_is_a_seeded_permutation() -> None:
    ds = _index([30, 10])
    s = StreamBatchSampler(ds, batch_size=8, seed=3)
    assert len(s) == 5  # one pass: 40 // 8
    s.set_epoch(0)
    e0 = _flat(list(s))
    assert sorted(e0) == list(range(40))
    assert e0 == _flat(list(StreamBatchSampler(ds, 8, seed=3)))
    s.set_epoch(1)
    e1 = _flat(list(s))
    assert sorted(e1) == list(range(40)) and e1 != e0
    assert _flat(list(StreamBatchSampler(ds, 8, seed=4))) != e0
    # more steps than one pass: further permutations are appended, batches stay full
    long = list(StreamBatchSampler(ds, 8, seed=3, steps_per_epoch=7))
    assert len(long) == 7 and all(len(b) == 8 for b in long)
    assert sorted(_flat(long)[:40]) == list(range(40))


def test_temperature_sampling_follows_alpha() -> None:
    ds = _index([900, 100])
    np.testing.assert_allclose(dataset_probabilities(np.array([900, 100]), 1.0), [0.9, 0.1])
    np.testing.assert_allclose(dataset_probabilities(np.array([900, 100]), 0.0), [0.5, 0.5])
    np.testing.assert_allclose(dataset_probabilities(np.array([900, 100, 0]), 0.5), [0.75, 0.25, 0.0])
    for alpha, expected in ((0.0, 0.5), (0.5, 0.25), (1.0, 0.1)):
        s = StreamBatchSampler(ds, 50, seed=0, steps_per_epoch=40, mode="temperature", alpha=alpha)
        idx = np.array(_flat(list(s)))
        share = float((ds[idx] == 1).mean())
        assert abs(share - expected) < 0.03, (alpha, share)
        small = idx[ds[idx] == 1]  # the small dataset cycles through all its members before repeating
        assert len(set(small[:100].tolist())) == min(100, len(small))
    a = _flat(list(StreamBatchSampler(ds, 16, 5, mode="temperature", alpha=0.3)))
    assert a == _flat(list(StreamBatchSampler(ds, 16, 5, mode="temperature", alpha=0.3)))
    with pytest.raises(ValueError, match="sampling mode"):
        StreamBatchSampler(ds, 16, 0, mode="balanced")  # type: ignore[arg-type]


def test_iterator_starts_at_the_step_source() -> None:
    """A resumed iterator continues the uninterrupted stream exactly (batches and draw keys)."""
    ds = _index([20, 20])
    step = {"g": 0}
    s = StreamBatchSampler(ds, 4, seed=1, steps_per_epoch=6, step_source=lambda: step["g"])
    full = [b for e in range(3) for b in (step.update(g=6 * e) or list(s))]
    assert len(full) == 18
    draws = [k for b in full for _, k in b]
    assert draws == list(range(18 * 4))  # the draw key is the stream position
    step["g"] = 9  # killed after 9 steps: the next iterator yields steps 9..11, then epoch 2 as before
    assert list(s) == full[9:12]
    step["g"] = 12
    assert list(s) == full[12:]


def test_ranks_take_disjoint_slices_of_each_global_batch() -> None:
    ds = _index([16, 16])
    single = list(StreamBatchSampler(ds, 8, seed=2, steps_per_epoch=4))
    ranks = [list(StreamBatchSampler(ds, 4, seed=2, steps_per_epoch=4, rank=r, world_size=2)) for r in (0, 1)]
    for step in range(4):
        assert ranks[0][step] + ranks[1][step] == single[step]
    assert StreamBatchSampler(ds, 4, seed=2, world_size=2).steps_per_epoch == 4  # 32 // (4 * 2)
    with pytest.raises(ValueError, match="rank"):
        StreamBatchSampler(ds, 4, 0, rank=2, world_size=2)


def test_few_shot_k_per_label_combination() -> None:
    rng = np.random.default_rng(0)
    combos = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]], np.float32)
    y = combos[rng.integers(0, 4, 200)]
    y[:3] = [[1, 0, 1]] * 2 + [[np.nan, 1, 0]]  # a rare combination (2 rows) and one with an unknown
    tasks, d = ["multilabel"], np.zeros(200, np.int64)
    chosen, rows = few_shot_indices(y, tasks, d, k=8, seed=0)
    keys = [tuple(np.nan_to_num(r, nan=-1)) for r in y[chosen]]
    counts = {k: keys.count(k) for k in set(keys)}
    assert len(counts) == 6 and counts[(1, 0, 1)] == 2 and counts[(-1, 1, 0)] == 1
    assert all(c == 8 for k, c in counts.items() if k not in ((1, 0, 1), (-1, 1, 0)))
    assert len(rows) == 200 and set(rows.tolist()) == set(chosen.tolist())  # oversampled to the full size
    again, rows_again = few_shot_indices(y, tasks, d, k=8, seed=0)
    np.testing.assert_array_equal(again, chosen)
    np.testing.assert_array_equal(rows_again, rows)
    other, _ = few_shot_indices(y, tasks, d, k=8, seed=1)
    assert not np.array_equal(other, chosen)
    one, _ = few_shot_indices(y, tasks, d, k=1, seed=0)
    assert len(one) == 6
    with pytest.raises(ValueError, match="k must be"):
        few_shot_indices(y, tasks, d, k=0, seed=0)


def test_few_shot_regression_bins_by_rounded_target() -> None:
    y = np.array([[1.2], [0.8], [1.4], [2.6], [3.1], [2.9], [0.6]], np.float32)  # bins 1,1,1,3,3,3,1
    chosen, rows = few_shot_indices(y, ["regression"], np.zeros(7, np.int64), k=2, seed=0)
    assert len(chosen) == 4 and len(rows) == 7
    assert sorted(np.round(y[chosen, 0]).tolist()) == [1, 1, 3, 3]
