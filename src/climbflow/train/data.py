"""Datasets over standardized stores (memory-mapped shards) with a shared per-modality vocabulary.

The vocabulary of a set of stores is the ordered union of their ``classes`` (first occurrence wins),
so identical class names merge across datasets (as in CLIMB's vision trainer). Each dataset keeps a
boolean ``valid_mask`` of the vocabulary columns it defines; its other columns are NaN (unknown).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from climbflow.store.format import StoreReader
from climbflow.train.fewshot import few_shot_indices
from climbflow.train.sampling import SamplingMode, StreamBatchSampler

logger = logging.getLogger(__name__)

TASKS = ("multilabel", "multiclass", "binary", "regression")
AUGMENTED_MODALITIES = ("image2d",)


@dataclass(frozen=True)
class ImageAugment:
    """Light, label-preserving train-time jitter for ``(C, S, S)`` images with pixels 0..255.

    A random integer translation of up to ``max_shift`` of the side (edges replicated) and a random
    contrast (around the image mean) and brightness change; never a flip (laterality is part of the
    labels) and nothing that moves intensities out of 0..255. Each call draws from the ``rng`` it is given.
    """

    max_shift: float = 0.06  # fraction of the side: 4 px at 64
    contrast: float = 0.12  # factor in [1 - contrast, 1 + contrast]
    brightness: float = 12.0  # offset in [-brightness, +brightness] (0..255 units)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = x.shape[-2:]
        my, mx = round(self.max_shift * h), round(self.max_shift * w)
        dy, dx = int(rng.integers(-my, my + 1)), int(rng.integers(-mx, mx + 1))
        c = rng.uniform(1 - self.contrast, 1 + self.contrast)
        b = rng.uniform(-self.brightness, self.brightness)
        if dy or dx:  # out[y, x] = in[y - dy, x - dx], edges replicated
            py, px = abs(dy), abs(dx)
            padded = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(py, py), (px, px)], mode="edge")
            x = padded[..., py - dy : py - dy + h, px - dx : px - dx + w]
        mean = x.mean(axis=(-2, -1), keepdims=True)
        return np.clip((x - mean) * c + mean + b, 0.0, 255.0).astype(np.float32)


@dataclass(frozen=True)
class DatasetInfo:
    """One store's place in the vocabulary."""

    name: str
    task: str
    classes: list[str]
    valid_mask: np.ndarray  # (V,) bool
    columns: np.ndarray  # (len(classes),) int: vocabulary column of each store class

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task": self.task,
            "classes": list(self.classes),
            "valid_mask": [bool(v) for v in self.valid_mask],
        }


@dataclass(frozen=True)
class StoreSet:
    """The stores of one modality: shared input shape, vocabulary and per-dataset masks."""

    paths: list[Path]
    modality: str
    sample_shape: tuple[int, ...]
    vocabulary: list[str]
    datasets: list[DatasetInfo] = field(default_factory=list)

    @property
    def in_channels(self) -> int:
        return int(self.sample_shape[0])


def build_vocabulary(class_lists: Sequence[Sequence[str]]) -> list[str]:
    """Ordered union of class lists (first occurrence wins)."""
    vocab: list[str] = []
    for classes in class_lists:
        vocab.extend(c for c in classes if c not in vocab)
    return vocab


def describe_stores(paths: Sequence[Path | str], vocabulary: Sequence[str] | None = None) -> StoreSet:
    """Read the stores' labels.json; check they share modality and sample shape; build the vocabulary.

    ``vocabulary`` (e.g. a finetuned model's classes) must contain every store class when given.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no stores given")
    labels = [StoreReader(p).labels for p in paths]
    modalities = {lab["modality"] for lab in labels}
    shapes = {tuple(lab["sample_shape"]) for lab in labels}
    if len(modalities) != 1:
        raise ValueError(f"stores mix modalities {sorted(modalities)}: {[str(p) for p in paths]}")
    if len(shapes) != 1:
        raise ValueError(f"stores have different sample shapes {sorted(shapes)}: {[str(p) for p in paths]}")
    vocab = (
        list(vocabulary) if vocabulary is not None else build_vocabulary([lab["classes"] for lab in labels])
    )
    index = {c: i for i, c in enumerate(vocab)}
    infos = []
    kind: dict[str, tuple[str, Path]] = {}  # class -> ("regression" | "classification", first store)
    for path, lab in zip(paths, labels, strict=True):
        if lab["task"] not in TASKS:
            raise ValueError(f"{path}: task {lab['task']!r} not supported; allowed: {list(TASKS)}")
        missing = [c for c in lab["classes"] if c not in index]
        if missing:
            raise ValueError(f"{path}: classes {missing} are not in the vocabulary {vocab}")
        this = "regression" if lab["task"] == "regression" else "classification"
        for c in lab["classes"]:
            other = kind.setdefault(c, (this, path))
            if other[0] != this:
                raise ValueError(
                    f"{path}: class {c!r} is a {this} target here but a {other[0]} target in {other[1]}"
                )
        columns = np.array([index[c] for c in lab["classes"]], dtype=np.int64)
        mask = np.zeros(len(vocab), dtype=bool)
        mask[columns] = True
        infos.append(
            DatasetInfo(lab.get("dataset", path.name), lab["task"], list(lab["classes"]), mask, columns)
        )
    return StoreSet(paths, modalities.pop(), shapes.pop(), vocab, infos)


class StoreDataset(Dataset):
    """Samples of one split over several stores: ``(x float32, target float32 (V,) with NaN, dataset index)``.

    Samples are read lazily from memory-mapped shards; only manifest columns (targets, shard, offset)
    are held in memory. ``x`` keeps the stored values (ECG amplitudes, image pixels 0..255) as float32.

    ``augment`` (image2d only; meant for the train split) applies :class:`ImageAugment` to every item. Its
    draws are deterministic: an item asked for as ``ds[(i, draw)]`` (what :class:`StreamBatchSampler` yields)
    uses the random stream ``(seed, i, draw)``, a function of the stream position alone (exact resume, any
    number of workers); a plain ``ds[i]`` uses ``(seed, i, k)`` for its ``k``-th read.
    Regression stores carry the raw target value (standardized in the loss, see :func:`target_stats`).
    """

    def __init__(
        self,
        stores: Sequence[Path | str],
        split: str,
        vocabulary: Sequence[str] | None = None,
        augment: bool = False,
        seed: int = 0,
    ) -> None:
        self.split = split
        self.info = describe_stores(stores, vocabulary)
        if augment and self.info.modality not in AUGMENTED_MODALITIES:
            raise ValueError(
                f"augmentation is defined for {list(AUGMENTED_MODALITIES)}, not {self.info.modality!r}"
            )
        self.augment: ImageAugment | None = ImageAugment() if augment else None
        self.seed = int(seed)
        self.vocabulary = self.info.vocabulary
        self.datasets = self.info.datasets
        V = len(self.vocabulary)
        shard_l, offset_l, target_l, ds_l, ids_l = [], [], [], [], []
        for d, (path, info) in enumerate(zip(self.info.paths, self.datasets, strict=True)):
            m = StoreReader(path).manifest
            m = m[m["split"].to_numpy() == split]
            n = len(m)
            target = np.full((n, V), np.nan, dtype=np.float32)
            if n:
                own = np.stack(m["target"].to_numpy()).astype(np.float32)
                if own.shape[1] != len(info.classes):
                    raise ValueError(f"{path}: target width {own.shape[1]} != {len(info.classes)} classes")
                target[:, info.columns] = own
            target_l.append(target)
            shard_l.append(m["shard"].to_numpy(np.int64))
            offset_l.append(m["offset"].to_numpy(np.int64))
            ds_l.append(np.full(n, d, dtype=np.int64))
            ids_l.extend(m["sample_id"].tolist())
        self.targets = np.concatenate(target_l) if target_l else np.zeros((0, V), np.float32)
        self.shards = np.concatenate(shard_l)
        self.offsets = np.concatenate(offset_l)
        self.dataset_index = np.concatenate(ds_l)
        self.sample_ids: list[str] = ids_l
        self._reads = np.zeros(len(self.dataset_index), dtype=np.int64)  # per-item read count (augmentation)
        self._readers: list[StoreReader] | None = None
        logger.debug("split %s: %d samples over %d stores", split, len(self), len(self.datasets))

    @property
    def valid_mask(self) -> np.ndarray:
        """(D, V) bool: the vocabulary columns each dataset defines."""
        return np.stack([d.valid_mask for d in self.datasets])

    @property
    def tasks(self) -> list[str]:
        return [d.task for d in self.datasets]

    def __len__(self) -> int:
        return len(self.dataset_index)

    def _reader(self, d: int) -> StoreReader:
        if self._readers is None:  # opened lazily, per process (DataLoader workers reopen their own maps)
            self._readers = [StoreReader(p) for p in self.info.paths]
        return self._readers[d]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_readers"] = None  # never pickle memory maps
        return state

    def take(self, rows: np.ndarray) -> StoreDataset:
        """A copy holding rows ``rows`` (in that order, repeats allowed) of this dataset."""
        rows = np.asarray(rows, dtype=np.int64)
        out = copy.copy(self)
        out.targets, out.shards, out.offsets = self.targets[rows], self.shards[rows], self.offsets[rows]
        out.dataset_index = self.dataset_index[rows]
        out.sample_ids = [self.sample_ids[int(r)] for r in rows]
        out._reads = np.zeros(len(rows), dtype=np.int64)
        out._readers = None
        return out

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, int]:
        i, draw = (int(item[0]), int(item[1])) if isinstance(item, tuple) else (int(item), None)
        d = int(self.dataset_index[i])
        x = np.array(self._reader(d).shard(int(self.shards[i]))[int(self.offsets[i])], dtype=np.float32)
        if self.augment is not None:
            if draw is None:
                draw = int(self._reads[i])
                self._reads[i] += 1
            x = self.augment(x, np.random.default_rng([self.seed, i, draw]))
        return (
            torch.from_numpy(x),
            torch.from_numpy(self.targets[i].copy()),
            d,
        )


def positive_weights(dataset: StoreDataset, clamp: tuple[float, float] = (0.1, 10.0)) -> np.ndarray:
    """(D, V) BCE ``pos_weight`` = negatives / positives per dataset column (NaN masked, clamped).

    Multilabel and binary datasets; other datasets and undefined columns get 1.
    """
    D, V = len(dataset.datasets), len(dataset.vocabulary)
    pw = np.ones((D, V), dtype=np.float32)
    for d, info in enumerate(dataset.datasets):
        if info.task not in ("multilabel", "binary"):
            continue
        t = dataset.targets[dataset.dataset_index == d][:, info.valid_mask]
        known = ~np.isnan(t)
        pos = np.where(known, t, 0).sum(0)
        neg = known.sum(0) - pos
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(pos > 0, neg / np.maximum(pos, 1e-12), clamp[1])
        pw[d, info.valid_mask] = np.clip(ratio, *clamp)
    return pw


def target_stats(dataset: StoreDataset) -> tuple[np.ndarray, np.ndarray]:
    """(D, V) ``(mean, std)`` of each regression dataset's columns over ``dataset`` (the train split).

    The loss regresses ``(y - mean) / std``; predictions are mapped back with ``mean + std * output``.
    Other datasets and columns get ``(0, 1)``; a constant or empty column gets std 1.
    """
    D, V = len(dataset.datasets), len(dataset.vocabulary)
    mean, std = np.zeros((D, V), np.float64), np.ones((D, V), np.float64)
    for d, info in enumerate(dataset.datasets):
        if info.task != "regression":
            continue
        t = dataset.targets[dataset.dataset_index == d][:, info.valid_mask].astype(np.float64)
        known = ~np.isnan(t)
        n = known.sum(0)
        m = np.where(n > 0, np.nansum(t, 0) / np.maximum(n, 1), 0.0)
        var = np.where(n > 0, np.nansum((t - m) ** 2, 0) / np.maximum(n, 1), 1.0)
        s = np.sqrt(var)
        mean[d, info.valid_mask], std[d, info.valid_mask] = m, np.where(s > 1e-8, s, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)


class StoreDataModule(pl.LightningDataModule):
    """Train / val / test loaders over stores of one modality.

    The train loader draws batches with :class:`StreamBatchSampler` (``sampling`` "shuffle" or
    "temperature" with ``alpha``; ``steps_per_epoch`` fixed, default one pass): the batch of each global
    step is a function of the seed, so a resumed run continues the exact stream. Under a Trainer the
    sampler follows ``trainer.global_step`` and the trainer's rank / world size (DDP without a
    DistributedSampler). ``augment``: seeded :class:`ImageAugment` on the train split only (image2d).
    ``few_shot``: keep ``k`` train samples per label combination (:func:`few_shot_indices`), oversampled
    back to the train size. ``exclude_train``: sample ids dropped from the train split (patients held out
    by another dataset's val/test, see :mod:`climbflow.stages.pretrain`). All loaders use their own generators
    and never touch the global RNG.
    """

    def __init__(
        self,
        stores: Sequence[Path | str],
        batch_size: int,
        seed: int,
        num_workers: int = 0,
        vocabulary: Sequence[str] | None = None,
        augment: bool = False,
        steps_per_epoch: int | None = None,
        sampling: SamplingMode = "shuffle",
        alpha: float = 0.5,
        few_shot: int | None = None,
        exclude_train: Collection[str] = (),
    ) -> None:
        super().__init__()
        self.stores = [Path(s) for s in stores]
        self.exclude_train = frozenset(exclude_train)
        self.batch_size, self.seed, self.num_workers = int(batch_size), int(seed), int(num_workers)
        self.augment = bool(augment)
        self.steps_per_epoch, self.sampling, self.alpha = steps_per_epoch, sampling, float(alpha)
        self.few_shot = few_shot
        self.few_shot_selected: np.ndarray | None = None  # train rows kept by few-shot (before oversampling)
        self.few_shot_ids: list[str] = []
        self.info = describe_stores(self.stores, vocabulary)
        self._splits: dict[str, StoreDataset] = {}

    @property
    def vocabulary(self) -> list[str]:
        return self.info.vocabulary

    def dataset(self, split: str) -> StoreDataset:
        if split not in self._splits:
            augment = self.augment and split == "train"
            ds = StoreDataset(self.stores, split, self.info.vocabulary, augment=augment, seed=self.seed)
            if split == "train" and self.exclude_train:
                keep = [i for i, sid in enumerate(ds.sample_ids) if sid not in self.exclude_train]
                logger.info("train split: %d held-out samples excluded", len(ds) - len(keep))
                ds = ds.take(np.array(keep, dtype=np.int64))
            if split == "train" and self.few_shot:
                chosen, rows = few_shot_indices(
                    ds.targets, ds.tasks, ds.dataset_index, int(self.few_shot), self.seed
                )
                self.few_shot_selected = chosen
                self.few_shot_ids = [ds.sample_ids[int(i)] for i in chosen]
                logger.info("few-shot k=%d: %d of %d train samples", self.few_shot, len(chosen), len(ds))
                ds = ds.take(rows)
            self._splits[split] = ds
        return self._splits[split]

    def setup(self, stage: str | None = None) -> None:
        for split in ("train", "val") if stage in (None, "fit") else ("test",):
            self.dataset(split)

    def _global_step(self) -> int:
        return int(self.trainer.global_step) if self.trainer is not None else 0

    def train_sampler(self) -> StreamBatchSampler:
        ds = self.dataset("train")
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        return StreamBatchSampler(
            ds.dataset_index,
            self.batch_size,
            self.seed,
            steps_per_epoch=self.steps_per_epoch,
            mode=self.sampling,
            alpha=self.alpha,
            rank=rank,
            world_size=world,
            step_source=self._global_step if self.trainer is not None else None,
        )

    def _workers(self) -> dict[str, Any]:
        return {
            "num_workers": self.num_workers,
            "persistent_workers": self.num_workers > 0,
            "pin_memory": torch.cuda.is_available(),  # page-locked batches: async host-to-GPU copies
        }

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)  # worker seeds; the global RNG stays untouched
        return DataLoader(
            self.dataset("train"), batch_sampler=self.train_sampler(), generator=generator, **self._workers()
        )

    def _eval_loader(self, split: str) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.dataset(split),
            batch_size=self.batch_size,
            shuffle=False,
            generator=generator,
            **self._workers(),
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")
