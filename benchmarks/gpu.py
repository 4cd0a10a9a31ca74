"""GPU training throughput: bare PyTorch vs climbflow's Lightning pretrain step vs pretrain from a store.

    PYTHONPATH=src:benchmarks python benchmarks/gpu.py                   # on a GPU machine, ~5-8 min
    PYTHONPATH=src:benchmarks python benchmarks/gpu.py --device cpu --tiny   # smoke run, seconds

For each encoder at CLIMB's size (ECG ResNet1d width 64 on 12x5000 at batch 512; ConvNeXt-V2-base on
1x224x224 at batch 128) it prints one table row per way of training it:
  (a) a bare PyTorch loop on synthetic tensors already on the device (encoder + linear head, BCE, fused AdamW,
      bf16 autocast, channels_last), eager and ``torch.compile``d;
  (b) climbflow's pretrain step (``MultiTaskModule`` under the pretrain Trainer) on the same tensors;
  (c) climbflow's ``pretrain()`` from a standardized store on local disk through its DataLoader
      (all cores as workers, pinned memory, persistent workers);
  plus the store loader alone. Ratios (b)/(a) and (c)/(a) are against the best bare loop; memory is the
peak allocated on the GPU; TFLOP/s = (forward + backward FLOPs per sample, counted by
``torch.utils.flop_counter``) x samples/s. Needs only torch, Lightning, numpy and pyarrow (no MLflow,
kfp or DVC on this path). Targets: (c)/(a) >= 0.9; loader >= 3x the GPU's consumption.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]
# the pretrain Trainer runs deterministic; cuBLAS reads this before the first CUDA call of the process
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
import train_throughput as tt  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from climbflow.config import EncoderConfig, PretrainConfig  # noqa: E402
from climbflow.models import MultiTaskHead, build_encoder  # noqa: E402
from climbflow.train.fit import pretrain  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    modality: str
    encoder: EncoderConfig
    shape: tuple[int, ...]
    batch: int


FULL = [
    Case("ECG ResNet1d w64", "ecg", EncoderConfig(width=64, depth=4, dropout=0.0), (12, 5000), 512),
    Case(
        "ConvNeXt-V2-base 224",
        "image2d",
        EncoderConfig(arch="convnextv2-base", dropout=0.0),
        (1, 224, 224),
        128,
    ),
]
TINY = [
    Case("ECG ResNet1d w8 (tiny)", "ecg", EncoderConfig(width=8, depth=2, dropout=0.0), (12, 500), 8),
    Case(
        "ConvNeXt-V2-atto 32 (tiny)",
        "image2d",
        EncoderConfig(arch="convnextv2-atto", dropout=0.0),
        (1, 32, 32),
        2,
    ),
]
N_CLASSES = len(tt.CLASSES)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gb(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")


def synthetic_batches(case: Case, n: int, device: torch.device) -> list[tuple[torch.Tensor, ...]]:
    """``n`` batches (x, multilabel target, dataset index) already on ``device``; images as 0..255 floats."""
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        if case.modality == "image2d":
            x = torch.randint(0, 256, (case.batch, *case.shape), generator=g).float()
        else:
            x = torch.randn((case.batch, *case.shape), generator=g)
        y = (torch.rand((case.batch, N_CLASSES), generator=g) < 0.3).float()
        d = torch.zeros(case.batch, dtype=torch.long)
        out.append((x.to(device), y.to(device), d.to(device)))
    return out


def _bare_model(case: Case, device: torch.device) -> torch.nn.Module:
    torch.manual_seed(0)
    enc = build_encoder(case.modality, case.encoder, case.shape)
    model = torch.nn.Sequential(enc, MultiTaskHead(enc.out_dim, N_CLASSES)).to(device)
    if device.type == "cuda" and len(case.shape) == 3:
        model = model.to(memory_format=torch.channels_last)
    return model


def flops_per_sample(case: Case) -> float:
    """Forward + backward FLOPs of one sample (counted on CPU with a batch of 2)."""
    model = _bare_model(case, torch.device("cpu"))
    two = Case(case.name, case.modality, case.encoder, case.shape, 2)
    x = synthetic_batches(two, 1, torch.device("cpu"))[0][0]
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    return counter.get_total_flops() / 2


def bare(case: Case, batches: list, device: torch.device, warmup: int, compile_: bool) -> float:
    """(a) samples/s of the plain loop: bf16 autocast on CUDA, fused AdamW, clipping as in pretrain."""
    model = _bare_model(case, device)
    step_model = torch.compile(model) if compile_ else model
    fused = device.type == "cuda" or None
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01, fused=fused)
    channels_last = device.type == "cuda" and len(case.shape) == 3
    start, seen = 0.0, 0
    for i, (x, y, _) in enumerate(batches):
        if i == warmup:
            _sync(device)
            start, seen = time.perf_counter(), 0
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(step_model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        opt.step()
        seen += len(x)
    _sync(device)
    return seen / (time.perf_counter() - start)


def lightning_step(case: Case, batches: list, warmup: int, compile_: bool) -> float:
    """(b) samples/s of ``MultiTaskModule`` under the pretrain Trainer on the same device-resident batches."""
    torch.manual_seed(0)
    module = tt.make_module(case.modality, len(batches), case.encoder, case.shape)
    if compile_:
        module.encoder.compile()
    return tt.lightning_loop(module, batches, warmup)


class _Rate(pl.Callback):
    """samples/s between the end of step ``warmup`` and the end of training."""

    def __init__(self, warmup: int, batch: int) -> None:
        self.warmup, self.batch, self.start, self.steps, self.rate = warmup, batch, 0.0, 0, float("nan")

    def on_train_batch_end(self, trainer, module, outputs, batch, i) -> None:  # noqa: ANN001
        if trainer.global_step == self.warmup:
            _sync(module.device)
            self.start, self.steps = time.perf_counter(), 0
        elif trainer.global_step > self.warmup:
            self.steps += 1

    def on_train_end(self, trainer, module) -> None:  # noqa: ANN001
        _sync(module.device)
        self.rate = self.steps * self.batch / max(time.perf_counter() - self.start, 1e-9)


def from_store(
    case: Case, store: Path, out: Path, steps: int, warmup: int, workers: int, compile_: bool
) -> float:
    """(c) samples/s of climbflow's ``pretrain()`` reading ``store`` through its DataLoader."""
    cfg = PretrainConfig(
        epochs=1,
        batch_size=case.batch,
        steps_per_epoch=warmup + steps,
        warmup_steps=2,
        num_workers=workers,
        checkpoint_every_n_steps=0,
        modalities=[case.modality],
        encoders={case.modality: case.encoder},
        compile=compile_,
    )
    rate = _Rate(warmup, case.batch)
    pretrain([store], case.modality, cfg, out, seed=0, callbacks=[rate])
    return rate.rate


@dataclass
class Row:
    case: str
    what: str
    rate: float
    ratio: float = float("nan")
    mem_gb: float = float("nan")
    tflops: float = float("nan")


def run_case(case: Case, device: torch.device, steps: int, warmup: int, workers: int, compile_: bool,
             tmp: Path) -> list[Row]:  # fmt: skip
    flops = flops_per_sample(case)
    batches = synthetic_batches(case, warmup + steps, device)
    rows: list[Row] = []

    def add(what: str, fn) -> float:  # noqa: ANN001
        _reset_memory(device)
        rate = fn()
        rows.append(Row(case.name, what, rate, mem_gb=_peak_gb(device), tflops=rate * flops / 1e12))
        return rate

    ref = add("(a) bare PyTorch, eager", lambda: bare(case, batches, device, warmup, False))
    if compile_:
        ref = max(ref, add("(a) bare PyTorch, compiled", lambda: bare(case, batches, device, warmup, True)))
    b_name = f"(b) Lightning step{', compiled' if compile_ else ''}"
    add(b_name, lambda: lightning_step(case, batches, warmup, compile_))
    batches = []  # free the synthetic GPU batches before (c) reads the store
    n = case.batch * max(8, min(warmup + steps, 16))
    store = tt.build_store(tmp / f"store-{case.modality}", case.modality, n, shape=case.shape)
    add(
        f"(c) pretrain() from store, {workers} workers",
        lambda: from_store(case, store, tmp / f"out-{case.modality}", steps, warmup, workers, compile_),
    )
    loader = tt.loader_rate(store, case.batch, steps, workers, case.modality)
    rows.append(Row(case.name, f"loader alone, {workers} workers", loader))
    for r in rows:
        r.ratio = r.rate / ref
    rows[-1].what += " (ratio = x consumption)"
    return rows


def format_table(rows: Sequence[Row], header: str) -> str:
    lines = [header, "", "| encoder | run | samples/s | ratio to best (a) | peak GPU GB | TFLOP/s |"]
    lines.append("|---|---|---|---|---|---|")
    for r in rows:
        cells = [r.case, r.what, f"{r.rate:.1f}", f"{r.ratio:.2f}", f"{r.mem_gb:.1f}", f"{r.tflops:.3g}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[Row]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    ap.add_argument("--device", choices=["cuda", "cpu"], default=default_device)
    ap.add_argument("--tiny", action="store_true", help="tiny encoders and inputs (CPU smoke test)")
    ap.add_argument("--steps", type=int, help="timed steps (default 30; tiny 3)")
    ap.add_argument("--warmup", type=int, help="untimed steps first (default 10, compile needs them; tiny 1)")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="DataLoader workers")
    ap.add_argument("--compile", choices=["auto", "on", "off"], default="auto", help="auto: on for CUDA")
    ap.add_argument("--only", nargs="+", choices=["ecg", "image2d"], help="only these encoders")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda but no CUDA device is visible; use --device cpu --tiny")
    if device.type == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the pretrain Trainer picks its accelerator itself
    compile_ = args.compile == "on" or (args.compile == "auto" and device.type == "cuda")
    steps = args.steps or (3 if args.tiny else 30)
    warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 10)
    workers = 0 if args.tiny else args.workers
    cases = [c for c in (TINY if args.tiny else FULL) if not args.only or c.modality in args.only]
    cpu_name = f"CPU, {torch.get_num_threads()} threads"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name
    torch.use_deterministic_algorithms(True, warn_only=True)  # what the pretrain Trainer sets for all loops
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            rows += run_case(case, device, steps, warmup, workers, compile_, Path(tmp))
    header = (f"device: {name}; torch {torch.__version__}; {steps} timed steps after {warmup}; "
              f"compile {'on' if compile_ else 'off'}; {len(os.sched_getaffinity(0))} CPUs")  # fmt: skip
    print(format_table(rows, header))
    return rows


if __name__ == "__main__":
    main()
