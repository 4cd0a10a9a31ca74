"""Train a multimodal fusion model on MIMIC-IV-style stores joined per admission (CLIMB §3.4).

The EHR store (modality ``ehr``) defines the cohort, the splits and the target; the image2d and ECG stores
are joined to it by record id (``sample_id = "<dataset>/<record_id>"``, record id = hadm_id) and may lack
an admission. The admission's text summary is the ``"text"`` key of the EHR manifest's ``meta`` JSON,
embedded once with a frozen text encoder ``encode_texts(list[str]) -> (pooled (B, D), tokens (B, N, D),
mask (B, N))`` (default :func:`climbflow.models.text.encode_texts`). Every modality carries a per-patient
presence flag; the fusion model (:mod:`climbflow.models.fusion`) ignores absent ones.

Targets: ``binary`` (48 h in-hospital mortality; BCE with ``pos_weight`` = negatives / positives on the
train set) or ``regression`` (length of stay; MSE on the train-standardized target). Both are scored like
every other model (:func:`climbflow.evaluate.scoring.score`): the task's headline metrics with patient-level
bootstrap 95% CIs and the quality verdict. ``few_shot = k`` keeps k train admissions per class (binary) or per
rounded-day bin (regression) and oversamples them back to the train size, as CLIMB's fusion experiment does.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from climbflow.config import FUSION_MODALITIES, FusionConfig
from climbflow.evaluate.scoring import headline, metrics_for, score
from climbflow.models.fusion import STRATEGIES, FusionModel, build_fusion_model, ehr_impl
from climbflow.store.format import StoreReader
from climbflow.train.module import WarmupCosine
from climbflow.train.progress_bar import TrainProgress
from climbflow.train.runtime import device_kind, set_threads, training_scope

logger = logging.getLogger(__name__)

STORE_MODALITIES = ("ehr", "image2d", "ecg")
COHORT = "ehr"  # the store that defines admissions, splits and targets
MODEL_FILE = "model.pt"
PREDICTIONS_FILE = "test_predictions.parquet"
TextEncoder = Callable[[list[str]], tuple[Any, Any, Any]]


# ---------------------------------------------------------------- join


def record_id(sample_id: str, store: Path) -> str:
    """``"<dataset>/<record_id>"`` -> record id."""
    if "/" not in sample_id:
        raise ValueError(f"{store}: sample_id {sample_id!r} is not '<dataset>/<record_id>'")
    return sample_id.split("/", 1)[1]


@dataclass
class FusionCohort:
    """Admissions of the EHR store with their rows in every store (-1 = absent) and text."""

    paths: dict[str, Path]
    target: str
    task: str
    record_ids: np.ndarray  # (n,) str
    patient_ids: np.ndarray
    split: np.ndarray
    y: np.ndarray  # (n,) float32
    shard: dict[str, np.ndarray]  # store modality -> (n,) int64, -1 = absent
    offset: dict[str, np.ndarray]
    texts: list[str | None]
    sample_shapes: dict[str, tuple[int, ...]]
    unmatched: dict[str, int] = field(default_factory=dict)  # rows of a joined store with no admission

    def __len__(self) -> int:
        return len(self.record_ids)

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)

    def coverage(self, split: str) -> dict[str, float]:
        """Fraction of the split's admissions that have each store modality and a text."""
        idx = self.indices(split)
        out = {m: float((s[idx] >= 0).mean()) if len(idx) else 0.0 for m, s in self.shard.items()}
        out["text"] = float(np.mean([self.texts[i] is not None for i in idx])) if len(idx) else 0.0
        return out


def _text_of(meta: Any) -> str | None:
    if meta is None or (isinstance(meta, float) and np.isnan(meta)):
        return None
    text = json.loads(meta).get("text") if isinstance(meta, str) else None
    return text if isinstance(text, str) and text.strip() else None


def join_stores(
    stores: Mapping[str, Path | str], target: str | None = None, task: str = "auto"
) -> FusionCohort:
    """Join the stores by record id onto the EHR cohort; check modalities, duplicates and split agreement.

    Admissions whose target is NaN are excluded (logged). Raises ValueError on a store of the wrong modality,
    a duplicate record id, or an admission placed in different splits by two stores.
    """
    paths = {m: Path(p) for m, p in stores.items()}
    if COHORT not in paths:
        raise ValueError(f"fusion needs the {COHORT!r} store (it defines the cohort); got {sorted(paths)}")
    unknown = sorted(set(paths) - set(STORE_MODALITIES))
    if unknown:
        raise ValueError(f"unknown fusion stores {unknown}; allowed: {list(STORE_MODALITIES)}")
    readers = {m: StoreReader(p) for m, p in paths.items()}
    for m, r in readers.items():
        if r.labels["modality"] != m:
            raise ValueError(f"{paths[m]}: store modality is {r.labels['modality']!r}, given as {m!r}")
    lab = readers[COHORT].labels
    classes = list(lab["classes"])
    if target is None:
        if len(classes) != 1:
            raise ValueError(f"{paths[COHORT]}: set fusion.target to one of {classes}")
        target = classes[0]
    if target not in classes:
        raise ValueError(f"{paths[COHORT]}: target {target!r} is not one of {classes}")
    if task == "auto":
        task = "regression" if lab["task"] == "regression" else "binary"
    man = readers[COHORT].manifest
    rid = np.array([record_id(s, paths[COHORT]) for s in man["sample_id"]], dtype=object)
    _check_unique(rid, paths[COHORT])
    y_all = (
        np.stack(man["target"].to_numpy())[:, classes.index(target)].astype(np.float32)
        if len(man)
        else np.zeros(0, np.float32)
    )
    if task == "binary" and not np.isin(y_all[~np.isnan(y_all)], (0.0, 1.0)).all():
        raise ValueError(f"{paths[COHORT]}: target {target!r} is not 0/1; set fusion.task: regression")
    keep = ~np.isnan(y_all)
    if (~keep).any():
        logger.info("fusion: %d admissions without a %s target excluded", int((~keep).sum()), target)
    man = man[keep].reset_index(drop=True)
    rid, y = rid[keep], y_all[keep]
    split = man["split"].to_numpy().astype(object)
    pos = {r: i for i, r in enumerate(rid)}
    shard = {COHORT: man["shard"].to_numpy(np.int64)}
    offset = {COHORT: man["offset"].to_numpy(np.int64)}
    unmatched = {}
    for m, r in readers.items():
        if m == COHORT:
            continue
        other = r.manifest
        orid = np.array([record_id(s, paths[m]) for s in other["sample_id"]], dtype=object)
        _check_unique(orid, paths[m])
        at = np.array([pos.get(x, -1) for x in orid], dtype=np.int64)
        hit = at >= 0
        unmatched[m] = int((~hit).sum())
        wrong = hit & (other["split"].to_numpy().astype(object) != split[np.where(hit, at, 0)])
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise ValueError(
                f"{paths[m]}: record {orid[i]} is in split {other['split'].iloc[i]!r} but in "
                f"{split[at[i]]!r} in {paths[COHORT]} ({int(wrong.sum())} such records)"
            )
        sh, of = np.full(len(rid), -1, np.int64), np.full(len(rid), -1, np.int64)
        sh[at[hit]] = other["shard"].to_numpy(np.int64)[hit]
        of[at[hit]] = other["offset"].to_numpy(np.int64)[hit]
        shard[m], offset[m] = sh, of
        if unmatched[m]:
            logger.info("fusion: %d %s records have no admission in the EHR store", unmatched[m], m)
    texts = [_text_of(v) for v in man["meta"]] if "meta" in man else [None] * len(man)
    return FusionCohort(
        paths=paths,
        target=target,
        task=task,
        record_ids=rid,
        patient_ids=man["patient_id"].to_numpy().astype(object),
        split=split,
        y=y,
        shard=shard,
        offset=offset,
        texts=texts,
        sample_shapes={m: tuple(int(d) for d in r.labels["sample_shape"]) for m, r in readers.items()},
        unmatched=unmatched,
    )


def _check_unique(ids: np.ndarray, store: Path) -> None:
    s = pd.Series(ids)
    dup = s[s.duplicated()]
    if len(dup):
        raise ValueError(f"{store}: record ids must be unique per store; duplicated: {sorted(set(dup))[:5]}")


# ---------------------------------------------------------------- text


@dataclass
class TextFeaturesCache:
    """Frozen text embeddings of every cohort admission; ``present`` False where there is no text."""

    pooled: np.ndarray  # (n, D) float32
    tokens: np.ndarray  # (n, N, D) float32 (N = 1 of zeros when tokens are not needed)
    mask: np.ndarray  # (n, N) bool
    present: np.ndarray  # (n,) bool

    @property
    def dim(self) -> int:
        return int(self.pooled.shape[1])


def _default_text_encoder() -> TextEncoder:
    from climbflow.models.text import encode_texts  # lazy: loads the frozen MiniLM

    return encode_texts


def embed_texts(
    texts: Sequence[str | None], encode: TextEncoder, max_tokens: int, tokens: bool, batch_size: int = 64
) -> TextFeaturesCache:
    """Embed the non-empty texts in order, in batches, without gradient; tokens padded/cut to ``max_tokens``."""
    n = len(texts)
    have = [i for i, t in enumerate(texts) if t is not None]
    pooled: np.ndarray | None = None
    tok = mask = None
    for start in range(0, len(have), batch_size):
        idx = have[start : start + batch_size]
        with torch.no_grad():
            p, t, k = encode([texts[i] for i in idx])
        p = torch.as_tensor(p).detach().float().cpu().numpy()
        if pooled is None:
            D = p.shape[1]
            pooled = np.zeros((n, D), np.float32)
            N = max_tokens if tokens else 1
            tok, mask = np.zeros((n, N, D), np.float32), np.zeros((n, N), bool)
        pooled[idx] = p
        if tokens:
            t = torch.as_tensor(t).detach().float().cpu().numpy()[:, :max_tokens]
            k = torch.as_tensor(k).detach().bool().cpu().numpy()[:, :max_tokens]
            tok[idx, : t.shape[1]] = t * k[:, :, None]
            mask[idx, : k.shape[1]] = k
    if pooled is None:  # no text at all: absent everywhere (width of MiniLM)
        pooled, tok, mask = (
            np.zeros((n, 384), np.float32),
            np.zeros((n, 1, 384), np.float32),
            np.zeros((n, 1), bool),
        )
    present = np.zeros(n, bool)
    present[have] = True
    if tokens:
        present &= mask.any(1)
    return TextFeaturesCache(pooled, tok, mask, present)


# ---------------------------------------------------------------- dataset


class FusionDataset(Dataset):
    """Admissions ``indices`` of a cohort: ``{"x": {m: ...}, "present": {m: bool}, "y": float32}``.

    Store samples are read lazily from the memory-mapped shards (zeros of the sample shape where absent);
    ``x["text"]`` is ``{"pooled", "tokens", "mask"}`` from the precomputed cache. EHR counts as absent when
    all its features are NaN.
    """

    def __init__(
        self,
        cohort: FusionCohort,
        indices: np.ndarray,
        modalities: Sequence[str],
        text: TextFeaturesCache | None = None,
    ) -> None:
        self.cohort, self.indices = cohort, np.asarray(indices, dtype=np.int64)
        self.modalities = list(modalities)
        if "text" in self.modalities and text is None:
            raise ValueError("text modality requested but no text features given")
        self.text = text
        self._readers: dict[str, StoreReader] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_readers"] = None  # never pickle memory maps
        return state

    def _read(self, m: str, j: int) -> tuple[np.ndarray, bool]:
        c = self.cohort
        shape = c.sample_shapes[m]
        k = int(c.shard[m][j])
        if k < 0:
            return np.zeros(shape, np.float32), False
        if self._readers is None:
            self._readers = {s: StoreReader(p) for s, p in c.paths.items()}
        x = np.array(self._readers[m].shard(k)[int(c.offset[m][j])], dtype=np.float32)
        return x, not (m == "ehr" and bool(np.isnan(x).all()))

    def __getitem__(self, i: int) -> dict[str, Any]:
        j = int(self.indices[i])
        x: dict[str, Any] = {}
        present: dict[str, torch.Tensor] = {}
        for m in self.modalities:
            if m == "text":
                t = self.text
                x[m] = {
                    "pooled": torch.from_numpy(t.pooled[j].copy()),
                    "tokens": torch.from_numpy(t.tokens[j].copy()),
                    "mask": torch.from_numpy(t.mask[j].copy()),
                }
                present[m] = torch.tensor(bool(t.present[j]))
            else:
                arr, ok = self._read(m, j)
                x[m], present[m] = torch.from_numpy(arr), torch.tensor(ok)
        return {"x": x, "present": present, "y": torch.tensor(float(self.cohort.y[j]))}


def few_shot_indices(y: np.ndarray, task: str, k: int, seed: int) -> np.ndarray:
    """Positions into ``y``: k per class (binary) or per rounded-day bin (regression), seeded, then
    repeated (cyclically, in a seeded order) back to ``len(y)``."""
    rng = np.random.default_rng(seed)
    bins = np.rint(y).astype(np.int64)
    chosen = []
    for b in np.unique(bins):
        members = np.flatnonzero(bins == b)
        chosen.append(np.sort(rng.choice(members, size=min(k, len(members)), replace=False)))
    picked = rng.permutation(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
    return np.resize(picked, len(y)) if len(picked) else picked


class FusionDataModule(pl.LightningDataModule):
    """Train / val / test loaders over a cohort; seeded shuffling; ``train_indices`` overrides the train split."""

    def __init__(
        self,
        cohort: FusionCohort,
        modalities: Sequence[str],
        batch_size: int,
        seed: int,
        text: TextFeaturesCache | None = None,
        train_indices: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.cohort, self.modalities, self.text = cohort, list(modalities), text
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.train_indices = cohort.indices("train") if train_indices is None else np.asarray(train_indices)

    def dataset(self, split: str) -> FusionDataset:
        idx = self.train_indices if split == "train" else self.cohort.indices(split)
        return FusionDataset(self.cohort, idx, self.modalities, self.text)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        ds = self.dataset(split)
        return DataLoader(
            ds,
            batch_size=self.batch_size,
            shuffle=shuffle,
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
            drop_last=shuffle and len(ds) > self.batch_size,  # no size-1 batch for BatchNorm
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


# ---------------------------------------------------------------- module


def fusion_metrics(task: str, y: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """The headline metrics of :mod:`climbflow.evaluate.scoring` without CIs (binary: probabilities; regression:
    predictions in target units)."""
    m = metrics_for(np.asarray(y, float), np.asarray(pred, float), task, ["target"], threshold)
    return {k: float(m[k]) for k in headline(task)}


class FusionModule(pl.LightningModule):
    """A :class:`FusionModel` with a binary (BCE, ``pos_weight``) or regression (MSE, standardized) loss.

    Constructor arguments are plain data (saved as hyperparameters). ``spec``: see
    :func:`climbflow.models.fusion.build_fusion_model`. ``optim``: lr, weight_decay, warmup_steps.
    """

    def __init__(
        self,
        spec: dict[str, Any],
        task: str,
        optim: dict[str, Any],
        pos_weight: float = 1.0,
        target_mean: float = 0.0,
        target_std: float = 1.0,
    ) -> None:
        super().__init__()
        if task not in ("binary", "regression"):
            raise ValueError(f"fusion task must be binary or regression, got {task!r}")
        self.save_hyperparameters()
        self.model: FusionModel = build_fusion_model(spec)
        self.task = task
        self.register_buffer("pos_weight", torch.tensor([float(pos_weight)]))
        self.target_mean, self.target_std = float(target_mean), float(target_std)
        self.history: list[dict[str, float]] = []
        self._train_sum, self._train_n = 0.0, 0
        self._val: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._last_val: dict[str, float] = {}

    def forward(self, x: Mapping[str, Any], present: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``(B,)`` raw outputs: logits (binary) or the standardized target (regression)."""
        return self.model(x, present)[:, 0].float()

    def predict_values(self, out: torch.Tensor) -> torch.Tensor:
        """Outputs -> probabilities (binary) or target units (regression)."""
        return out.sigmoid() if self.task == "binary" else out * self.target_std + self.target_mean

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.task == "binary":
            return F.binary_cross_entropy_with_logits(out, y.float(), pos_weight=self.pos_weight)
        return F.mse_loss(out, (y.float() - self.target_mean) / self.target_std)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self.loss(self(batch["x"], batch["present"]), batch["y"])
        n = len(batch["y"])
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=n)
        self._train_sum += float(loss.detach()) * n
        self._train_n += n
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._val.append((self(batch["x"], batch["present"]).detach().cpu(), batch["y"].cpu()))

    def on_train_epoch_start(self) -> None:
        self.model.train(True)  # Lightning restores captured per-module modes; keep frozen encoders in eval

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        out, y = (torch.cat(t) for t in zip(*self._val, strict=True))
        self._val.clear()
        metrics = {"val/loss": float(self.loss(out.to(self.pos_weight.device), y.to(self.pos_weight.device)))}
        pred = self.predict_values(out).numpy()
        metrics.update({f"val/{k}": v for k, v in fusion_metrics(self.task, y.numpy(), pred).items()})
        self._last_val = metrics
        for key, value in metrics.items():
            self.log(key, value, prog_bar=True)

    def on_train_epoch_end(self) -> None:
        row = {"epoch": float(self.current_epoch), "train/loss": self._train_sum / max(self._train_n, 1)}
        row.update(self._last_val)
        self.history.append(row)
        logger.info("fusion epoch %d: %s", self.current_epoch, {k: round(v, 4) for k, v in row.items()})
        self._train_sum, self._train_n, self._last_val = 0.0, 0, {}

    def configure_optimizers(self) -> Any:
        o = self.hparams.optim
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=o["lr"], weight_decay=o["weight_decay"])
        total = int(self.trainer.estimated_stepping_batches)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(o.get("warmup_steps", 0), total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def _to(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, Mapping):
        return {k: _to(v, device) for k, v in obj.items()}
    return obj.to(device)


@torch.no_grad()
def predict_fusion(module: FusionModule, loader: DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, prediction)`` over a loader in eval mode: probabilities or target units."""
    was = module.training
    module.eval()
    device = module.pos_weight.device
    ys, preds = [], []
    for batch in loader:
        out = module(_to(batch["x"], device), _to(batch["present"], device))
        preds.append(module.predict_values(out).float().cpu().numpy())
        ys.append(batch["y"].numpy())
    module.train(was)
    if not ys:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    return np.concatenate(ys).astype(np.float32), np.concatenate(preds).astype(np.float32)


# ---------------------------------------------------------------- fit


def _load_pretrained(path: Path, modality: str, shape: tuple[int, ...]) -> dict[str, Any]:
    pre = torch.load(path, map_location="cpu", weights_only=True)
    if pre.get("modality") != modality or tuple(pre.get("sample_shape", ())) != tuple(shape):
        raise ValueError(
            f"{path}: encoder is {pre.get('modality')!r} for shape {pre.get('sample_shape')}, but the "
            f"{modality} store has samples of shape {list(shape)}"
        )
    return pre


def _trainer(cfg: FusionConfig) -> pl.Trainer:
    return pl.Trainer(
        accelerator=device_kind(),
        devices=1,
        max_epochs=cfg.epochs,
        deterministic=True,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,  # TrainProgress: a bar on a terminal, one line per epoch otherwise
        callbacks=[TrainProgress()],
        enable_model_summary=False,
        gradient_clip_val=cfg.grad_clip,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
    )


def fit_fusion(
    stores: Mapping[str, Path | str],
    encoders: Mapping[str, Path | str | None],
    cfg: FusionConfig,
    out_dir: Path | str,
    seed: int,
    text_encoder: TextEncoder | None = None,
    n_boot: int = 1000,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Train ``cfg.strategy`` fusion on the train split (validated on val), evaluate on test, write model.pt and
    the test predictions (``test_predictions.parquet``).

    ``stores``: modality (ehr, image2d, ecg) -> store; ``encoders``: modality -> ``encoder.pt`` (or None:
    trained from scratch with ``cfg.encoder``). Returns metrics (``test/<headline metric>``, last-epoch
    ``val/...``), ``test`` (the full :func:`~climbflow.evaluate.scoring.score` result: ``ci``, ``quality``, ...),
    history, sizes, per-split modality coverage and the model path.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_threads()
    start = time.perf_counter()
    with training_scope():
        pl.seed_everything(seed, workers=True)
        cohort = join_stores(stores, cfg.target, cfg.task)
        missing = [m for m in cfg.modalities if m != "text" and m not in cohort.paths]
        if missing:
            raise ValueError(f"fusion.modalities {missing} have no store; stores: {sorted(cohort.paths)}")
        modalities = list(cfg.modalities)
        text = None
        if "text" in modalities:
            text = embed_texts(
                cohort.texts,
                text_encoder or _default_text_encoder(),
                cfg.text_tokens,
                tokens=cfg.strategy == "cross_attention",
            )
        train_idx = cohort.indices("train")
        for split, idx in (("train", train_idx), ("test", cohort.indices("test"))):
            if not len(idx):
                raise ValueError(
                    f"{cohort.paths[COHORT]}: no {split} admissions with a {cohort.target} target"
                )
        if cfg.few_shot:
            train_idx = train_idx[few_shot_indices(cohort.y[train_idx], cohort.task, cfg.few_shot, seed)]
        y_train = cohort.y[train_idx]
        pos = float((y_train >= 0.5).sum())
        pos_weight = float(np.clip((len(y_train) - pos) / max(pos, 1.0), 0.01, 100.0))
        mean = float(y_train.mean()) if cohort.task == "regression" else 0.0
        std = float(y_train.std()) if cohort.task == "regression" else 1.0
        spec_mods: dict[str, dict[str, Any]] = {}
        pretrained: dict[str, dict[str, Any]] = {}
        for m in modalities:
            if m == "text":
                spec_mods[m] = {
                    "encoder": cfg.encoder.model_dump(),
                    "sample_shape": [text.tokens.shape[1], text.dim],
                }
                continue
            shape = cohort.sample_shapes[m]
            path = encoders.get(m)
            if path is not None:
                pretrained[m] = _load_pretrained(Path(path), m, shape)
                spec_mods[m] = {
                    "encoder": dict(pretrained[m]["encoder"]),
                    "sample_shape": list(shape),
                    "impl": "registry",
                }
            else:
                impl = ehr_impl() if m == "ehr" else "registry"
                spec_mods[m] = {
                    "encoder": cfg.encoder.model_dump(),
                    "sample_shape": list(shape),
                    "impl": impl,
                }
        spec = {
            "strategy": cfg.strategy,
            "hidden": cfg.hidden,
            "heads": cfg.heads,
            "dropout": cfg.dropout,
            "out_dim": 1,
            "frozen": sorted(pretrained) if cfg.freeze_encoders else [],
            "modalities": spec_mods,
        }
        module = FusionModule(
            spec,
            cohort.task,
            {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "warmup_steps": cfg.warmup_steps},
            pos_weight=pos_weight,
            target_mean=mean,
            target_std=std if std > 0 else 1.0,
        )
        for m, pre in pretrained.items():
            module.model.encoders[m].load_state_dict(pre["state_dict"])
        data = FusionDataModule(cohort, modalities, cfg.batch_size, seed, text, train_idx)
        logger.info(
            "fusion %s on %s (%s %s): %d train / %d val / %d test admissions, pretrained %s",
            cfg.strategy,
            modalities,
            cohort.task,
            cohort.target,
            len(train_idx),
            len(cohort.indices("val")),
            len(cohort.indices("test")),
            sorted(pretrained),
        )
        trainer = _trainer(cfg)
        trainer.fit(module, datamodule=data)
        y_test, p_test = predict_fusion(module, data.test_dataloader())
    seconds = time.perf_counter() - start
    last = module.history[-1] if module.history else {}
    metrics = {k: float(v) for k, v in last.items() if k != "epoch"}
    test = _score_test(cohort, y_test, p_test, out_dir, n_boot, threshold, seed)
    metrics.update({f"test/{k}": float(test[k]) for k in headline(cohort.task)})
    model_path = out_dir / MODEL_FILE
    torch.save(
        {
            "state_dict": {k: v.detach().cpu() for k, v in module.model.state_dict().items()},
            "spec": spec,
            "task": cohort.task,
            "target": cohort.target,
            "target_mean": module.target_mean,
            "target_std": module.target_std,
            "pos_weight": pos_weight,
        },
        model_path,
    )
    logger.info("fusion %s done in %.1fs: %s", cfg.strategy, seconds, metrics)
    return {
        "strategy": cfg.strategy,
        "task": cohort.task,
        "target": cohort.target,
        "modalities": modalities,
        "pretrained": sorted(pretrained),
        "few_shot": cfg.few_shot,
        "n_train": len(train_idx),
        "n_val": len(cohort.indices("val")),
        "n_test": len(cohort.indices("test")),
        "coverage": {s: cohort.coverage(s) for s in ("train", "val", "test")},
        "unmatched": dict(cohort.unmatched),
        "model_path": str(model_path),
        "metrics": metrics,
        "test": test,
        "history": module.history,
        "seconds": seconds,
    }


def _score_test(
    cohort: FusionCohort,
    y: np.ndarray,
    pred: np.ndarray,
    out_dir: Path,
    n_boot: int,
    threshold: float,
    seed: int,
) -> dict[str, Any]:
    """Write the test predictions and score them with patient-level bootstrap CIs (as every other model)."""
    idx = cohort.indices("test")
    patients = cohort.patient_ids[idx]
    pd.DataFrame(
        {"record_id": cohort.record_ids[idx], "patient_id": patients, "y_true": y, "y_pred": pred}
    ).to_parquet(out_dir / PREDICTIONS_FILE, index=False)
    return score(y, pred, list(patients), cohort.task, [cohort.target], threshold, n_boot, seed)


def load_fusion_model(path: Path | str) -> tuple[FusionModel, dict[str, Any]]:
    """``model.pt`` of :func:`fit_fusion` -> (CPU model in eval mode, info: task, target, target_mean/std)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = build_fusion_model(blob["spec"])
    model.load_state_dict(blob["state_dict"])
    info = {k: blob[k] for k in ("task", "target", "target_mean", "target_std", "spec")}
    return model.eval(), info


__all__ = [
    "FUSION_MODALITIES",
    "STRATEGIES",
    "FusionCohort",
    "FusionConfig",
    "FusionDataModule",
    "FusionDataset",
    "FusionModule",
    "embed_texts",
    "few_shot_indices",
    "fit_fusion",
    "fusion_metrics",
    "join_stores",
    "load_fusion_model",
    "predict_fusion",
]
