"""Training throughput: Lightning pretrain step vs a bare PyTorch loop, and the data loader vs the model.

    PYTHONPATH=src python benchmarks/train_throughput.py [--modality image2d|ecg] [--steps 30] [--batch-size 32]

Builds a temporary store in the standardized format (no sample data needed), then measures on the same
model, batch and device (CUDA in bf16 autocast when available, else CPU fp32):
  * samples/s of ``MultiTaskModule`` trained by a Lightning Trainer (the pretrain step) and by a bare
    AdamW + cosine + grad-clip loop over the same in-memory batches (target ratio >= 0.9), both under the same
    global torch state (threads, deterministic algorithms: see :func:`same_state`), after one discarded run
    each, alternating order, median of the rounds;
  * the same ratio per CPU-second (``time.process_time``, all threads), which other jobs on shared cores
    disturb far less than wall time;
  * samples/s of the memory-mapped train loader (``StoreDataModule``, augmentation included) against the
    model's consumption (target >= 3x).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from climbflow.config import EncoderConfig, PretrainConfig
from climbflow.store.format import (
    LABELS,
    MANIFEST,
    MANIFEST_SCHEMA,
    shard_name,
    write_npy_stream,
    write_table,
)
from climbflow.train.data import AUGMENTED_MODALITIES, StoreDataModule
from climbflow.train.fit import build_trainer, resolve_precision
from climbflow.train.module import MultiTaskModule, WarmupCosine
from climbflow.train.progress_bar import TrainProgress

SHAPES = {"image2d": ((3, 64, 64), "uint8"), "ecg": ((12, 5000), "float16")}
CLASSES = ["c0", "c1", "c2", "c3", "c4"]


def build_store(
    root: Path, modality: str, n: int, seed: int = 0, shape: tuple[int, ...] | None = None
) -> Path:
    """A multilabel store of ``n`` random train samples in one shard (``shape`` default: :data:`SHAPES`)."""
    shape, dtype = shape or SHAPES[modality][0], SHAPES[modality][1]
    rng = np.random.default_rng(seed)
    (root / "shards").mkdir(parents=True)
    y = (rng.random((n, len(CLASSES))) < 0.3).astype(np.float32)

    def samples():
        for _ in range(n):
            if dtype == "uint8":
                yield rng.integers(0, 256, shape, dtype=np.uint8)
            else:
                yield rng.standard_normal(shape).astype(np.float16)

    write_npy_stream(root / shard_name(0), samples(), shape, dtype)
    rows = [
        {
            "sample_id": f"s{i}",
            "patient_id": f"p{i}",
            "dataset": "bench",
            "modality": modality,
            "split": "train",
            "source_labels": "[]",
            "target": [float(v) for v in y[i]],
            "source_uri": f"bench://{i}",
            "source_sha256": "0" * 64,
            "shard": 0,
            "offset": i,
            "shape": list(shape),
            "sampling_rate": None,
            "orig_sampling_rate": None,
            "age": None,
            "sex": None,
            "meta": "{}",
        }
        for i in range(n)
    ]
    write_table(rows, MANIFEST_SCHEMA, root / MANIFEST)
    labels = {"dataset": "bench", "modality": modality, "task": "multilabel", "classes": CLASSES}
    (root / LABELS).write_text(json.dumps({**labels, "sample_shape": list(shape), "dtype": dtype}))
    return root


def make_module(
    modality: str, total: int, enc: EncoderConfig, shape: tuple[int, ...] | None = None
) -> MultiTaskModule:
    V = len(CLASSES)
    ds = [{"name": "bench", "task": "multilabel", "classes": CLASSES, "valid_mask": [True] * V}]
    optim = {"lr": 1e-3, "weight_decay": 0.01, "warmup_steps": 5, "total_steps": total}
    shape = shape or SHAPES[modality][0]
    return MultiTaskModule(modality, enc.model_dump(), list(shape), CLASSES, ds, optim)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


last_cpu_rate = float("nan")  # samples per CPU-second (all threads) of the last bare_loop / lightning_loop


def _cpu_rate(seen: int, cpu_start: float) -> None:
    global last_cpu_rate
    last_cpu_rate = seen / max(time.process_time() - cpu_start, 1e-9)


def bare_loop(module: MultiTaskModule, batches: list, device: torch.device, warmup: int, bf16: bool) -> float:
    """samples/s of a plain AdamW + cosine + clipping loop over ``batches`` (after ``warmup`` steps)."""
    module.to(device).train()
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(5, len(batches)))
    start, cpu, seen = 0.0, 0.0, 0
    for i, (x, y, d) in enumerate(batches):
        if i == warmup:
            sync(device)
            start, cpu, seen = time.perf_counter(), time.process_time(), 0
        x, y, d = x.to(device, non_blocking=True), y.to(device), d.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = module.loss(module(x), y, d)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 2.0)
        opt.step()
        sched.step()
        seen += len(x)
    sync(device)
    _cpu_rate(seen, cpu)
    return seen / (time.perf_counter() - start)


class _Timer(pl.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.seen, self.end, self.cpu = warmup, 0.0, 0, 0.0, 0.0

    def on_train_batch_start(self, trainer, module, batch, i) -> None:  # noqa: ANN001
        if trainer.global_step == self.warmup:
            sync(module.device)
            self.start, self.seen, self.cpu = time.perf_counter(), 0, time.process_time()
        if trainer.global_step >= self.warmup:
            self.seen += len(batch[0])

    def on_train_end(self, trainer, module) -> None:  # noqa: ANN001
        sync(module.device)
        self.end = time.perf_counter()
        _cpu_rate(self.seen, self.cpu)


class _Batches(torch.utils.data.Dataset):
    def __init__(self, batches: list) -> None:
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):  # noqa: ANN204
        return self.batches[i]


def lightning_loop(module: MultiTaskModule, batches: list, warmup: int) -> float:
    """samples/s of the same steps under the pretrain Trainer (same precision, clipping and schedule)."""
    cfg = PretrainConfig(epochs=1, batch_size=len(batches[0][0]), checkpoint_every_n_steps=0)
    timer = _Timer(warmup)
    # with pretrain's progress callback, as _fit adds it
    trainer = build_trainer(cfg, [timer, TrainProgress()])
    trainer.fit_loop.epoch_loop.max_steps = len(batches)
    loader = torch.utils.data.DataLoader(_Batches(batches), batch_size=None, shuffle=False)
    trainer.fit(module, train_dataloaders=loader)
    return timer.seen / (timer.end - timer.start)


def loader_rate(store: Path, batch_size: int, steps: int, workers: int, modality: str) -> float:
    """samples/s of the memory-mapped train loader (augmentation included for image2d)."""
    data = StoreDataModule(
        [store], batch_size, seed=0, num_workers=workers, augment=modality in AUGMENTED_MODALITIES
    )
    it, seen = iter(data.train_dataloader()), 0
    next(it)  # worker start-up is not throughput
    start = time.perf_counter()
    for _ in range(steps):
        try:
            seen += len(next(it)[0])
        except StopIteration:
            it = iter(data.train_dataloader())
    return seen / (time.perf_counter() - start)


def same_state(threads: int) -> None:
    """The global torch state both loops run under: the pretrain Trainer's ``deterministic=True`` switches
    ``torch.use_deterministic_algorithms`` on for the whole process (and leaves it on), so it is set once,
    before either loop, together with a fixed thread count."""
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)


def measure(
    modality: str = "image2d",
    batch_size: int = 32,
    steps: int = 15,
    warmup: int = 3,
    workers: int = 0,
    width: int = 16,
    depth: int = 3,
    rounds: int = 3,
    threads: int | None = None,
) -> dict:
    """samples/s of the bare loop, the Lightning step and the loader (median over ``rounds`` alternating rounds)."""
    import statistics

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    precision = resolve_precision("auto")
    same_state(threads or torch.get_num_threads())
    name = torch.cuda.get_device_name(0) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    enc = EncoderConfig(width=width, depth=depth, dropout=0.1)
    total = warmup + steps
    with tempfile.TemporaryDirectory() as tmp:
        store = build_store(Path(tmp) / "store", modality, n=max(256, batch_size * total))
        data = StoreDataModule([store], batch_size, seed=0)
        batches = []
        for x, y, d in data.train_dataloader():
            batches.append((x, y, d))
            if len(batches) == total:
                break

        def bare() -> float:
            torch.manual_seed(0)
            return bare_loop(
                make_module(modality, total, enc), batches, device, warmup, precision == "bf16-mixed"
            )

        def light() -> float:
            torch.manual_seed(0)
            return lightning_loop(make_module(modality, total, enc), batches, warmup)

        bare(), light()  # discarded: first-use costs (allocator, oneDNN primitives, Lightning set-up)
        runs: dict[str, list[float]] = {"bare": [], "lightning": [], "bare_cpu": [], "lightning_cpu": []}
        for i in range(rounds):  # alternate the order each round (shared, noisy CPUs)
            order = [("bare", bare), ("lightning", light)]
            for key, fn in order if i % 2 == 0 else order[::-1]:
                runs[key].append(fn())
                runs[f"{key}_cpu"].append(last_cpu_rate)
        load = loader_rate(store, batch_size, steps, workers, modality)
    b, lt = statistics.median(runs["bare"]), statistics.median(runs["lightning"])
    b_cpu, lt_cpu = statistics.median(runs["bare_cpu"]), statistics.median(runs["lightning_cpu"])
    return {
        "device": name,
        "precision": precision,
        "shape": SHAPES[modality][0],
        "bare": b,
        "lightning": lt,
        "loader": load,
        "lightning_vs_bare": lt / b,
        "lightning_vs_bare_cpu": lt_cpu / b_cpu,  # per CPU-second: robust to other jobs on shared cores
        "loader_vs_model": load / lt,
        "runs": runs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modality", choices=sorted(SHAPES), default="image2d")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=15, help="timed steps (after --warmup)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers")
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    r = measure(args.modality, args.batch_size, args.steps, args.warmup, args.workers, args.width, args.depth,
                args.rounds)  # fmt: skip
    rows = [
        ("bare PyTorch loop", r["bare"], "", ""),
        ("Lightning pretrain step", r["lightning"], f"{r['lightning_vs_bare']:.2f}x bare", ">= 0.9x"),
        (
            f"data loader (mmap, {args.workers} workers)",
            r["loader"],
            f"{r['loader_vs_model']:.1f}x model",
            ">= 3x",
        ),
    ]
    print(
        f"device: {r['device']}; precision {r['precision']}; {args.modality} {r['shape']}, batch {args.batch_size}"
    )
    print(f"{'what':<34} {'samples/s':>10}  {'ratio':<14} target")
    for what, rate, ratio, target in rows:
        print(f"{what:<34} {rate:>10.1f}  {ratio:<14} {target}")


if __name__ == "__main__":
    main()
