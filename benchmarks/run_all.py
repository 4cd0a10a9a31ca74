"""All performance targets in one table: measured value, target, met / not met, with the machine description.

    PYTHONPATH=src:. python benchmarks/run_all.py [--only standardize|train|noop_run|help|dvc_push ...]

Sub-benchmarks (each runnable alone with ``--only``):
  standardize  standardize vs plain decode (records/s ratio) and peak RSS at N vs 10N (benchmarks/standardize.py)
  train        Lightning vs bare PyTorch step, loader vs model consumption (benchmarks/train_throughput.py)
  noop_run     a second, no-op ``climb run`` on a tiny sample (everything cached)
  help         ``climb --help`` in a cold process
  dvc_push     files a DVC push of a standardized store version touches, per 1,000 samples
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO), str(REPO / "benchmarks")]
ENV = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}", "DVC_NO_ANALYTICS": "1"}
CLIMB = [sys.executable, "-m", "climbflow.cli"]

Row = tuple[str, float, str, str, bool]  # what, value, unit, target (text), met


def machine() -> str:
    mem = ""
    try:
        kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        mem = f", {kb / 2**20:.1f} GiB RAM"
    except (OSError, StopIteration):
        pass
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import torch

    return (
        f"{cpu}, {os.cpu_count()} CPUs{mem}; load avg {load:.1f} at start; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}, torch {torch.__version__}"
    )


def bench_standardize(args) -> list[Row]:
    import standardize as std

    with tempfile.TemporaryDirectory() as tmp:
        r = std.measure(args.dataset, args.n, Path(tmp))
    ratio, rss = r["ratio (target >= 0.8)"], r["RSS 10N / N (target <= 1.2)"]
    return [
        (f"standardize / raw decode, {args.dataset} N={r['N']} "
         f"({r['standardize rec/s']:.0f} vs {r['decode rec/s']:.0f} rec/s)", ratio, "x", ">= 0.8", ratio >= 0.8),
        (f"peak RSS 10N / N ({r['peak RSS at 10N (MB)']:.0f} / {r['peak RSS at N (MB)']:.0f} MB)",
         rss, "x", "<= 1.2", rss <= 1.2),
    ]  # fmt: skip


def bench_train(args) -> list[Row]:
    import train_throughput as tt

    r = tt.measure("image2d", batch_size=32, steps=args.train_steps, warmup=3, rounds=3)
    return [
        (f"Lightning / bare PyTorch step ({r['lightning']:.0f} vs {r['bare']:.0f} samples/s, {r['device']})",
         r["lightning_vs_bare"], "x", ">= 0.9", r["lightning_vs_bare"] >= 0.9),
        (f"loader / model consumption ({r['loader']:.0f} vs {r['lightning']:.0f} samples/s)",
         r["loader_vs_model"], "x", ">= 3", r["loader_vs_model"] >= 3),
    ]  # fmt: skip


def _tiny_params(tmp: Path, records: int) -> Path:
    import yaml

    data = yaml.safe_load((REPO / "params.yaml").read_text())
    data["workspace"]["root"] = str(tmp / "workspace")
    data["datasets"] = {"ptbxl": {"source": str(tmp / "sample" / "ptbxl"), "options": {}}}
    data["sample_data"]["records"] = {"ptbxl": records}
    data["finetune"]["targets"] = ["ptbxl"]
    data["pretrain"]["modalities"] = ["ecg"]
    data["pretrain"]["epochs"] = data["finetune"]["epochs"] = 1
    data["pretrain"]["epochs_by_modality"] = data["finetune"]["epochs_by_modality"] = {}
    data["evaluate"]["bootstrap"] = 50
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def bench_noop_run(args) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        params = _tiny_params(Path(tmp), args.run_records)
        cmd = [*CLIMB, "run", "--params", str(params)]
        start = time.perf_counter()
        subprocess.run(cmd, env=ENV, check=True, capture_output=True, text=True, cwd=tmp)
        first = time.perf_counter() - start
        start = time.perf_counter()
        out = subprocess.run(cmd, env=ENV, check=True, capture_output=True, text=True, cwd=tmp)
        second = time.perf_counter() - start
    cached = out.stdout.count("yes")
    return [
        (f"no-op `climb run` re-run (first run {first:.0f} s, {args.run_records} records, 1 epoch; "
         f"{cached} cached result rows)", second, "s", "<= 30", second <= 30),
    ]  # fmt: skip


def bench_help(args) -> list[Row]:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([*CLIMB, "--help"], env=ENV, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    return [("`climb --help`, cold process (median of 3)", t, "s", "<= 1.0", t <= 1.0)]


def bench_dvc_push(args) -> list[Row]:
    import standardize as std

    from climbflow import sampledata

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = sampledata.write(args.dataset, work / "raw", args.dvc_records, seed=0)
        params = std._params(work, args.dataset, source)
        import yaml

        data = yaml.safe_load(params.read_text())
        data["standardize"]["shard_size"] = yaml.safe_load((REPO / "params.yaml").read_text())["standardize"][
            "shard_size"
        ]  # the shipped shard size, not the standardize benchmark's
        params.write_text(yaml.safe_dump(data, sort_keys=False))
        r = std._child("standardize", params, args.dataset)
        import json

        from climbflow.store.versioning import read_dvc_file

        remote = work / "workspace" / "dvc-remote"
        stores = [
            p.parent for p in (work / "workspace").rglob("labels.json") if (p.parent / "shards").is_dir()
        ]
        store = next(s for s in stores if ".dvc" not in s.parts)
        md5 = read_dvc_file(store).md5  # "<hash>.dir": the version's directory listing
        listing = next(remote.rglob(md5[2:]))
        entries = json.loads(listing.read_text())
        # what this version's push puts on the remote (the remote also holds the raw snapshot's objects)
        pushed = [listing] + [f for e in entries if (f := next(remote.rglob(e["md5"][2:]), None)) is not None]
        shards = [e for e in entries if e["relpath"].startswith("shards/")]
        shard_size = data["standardize"]["shard_size"]
    n = r["n"]
    fixed = len(pushed) - len(shards)
    per_k = len(shards) * 1000 / n
    allowed = math.ceil(n / 1000)
    return [
        (f"DVC push of a standardized version: {len(pushed)} files for {n} samples = {len(shards)} shard(s) "
         f"(shard_size {shard_size}) + {fixed} fixed", per_k, "files/1k", "<= 1 (+ fixed)",
         len(shards) <= allowed),
    ]  # fmt: skip


BENCHES: dict[str, Callable] = {
    "standardize": bench_standardize,
    "train": bench_train,
    "noop_run": bench_noop_run,
    "help": bench_help,
    "dvc_push": bench_dvc_push,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these sub-benchmarks")
    ap.add_argument("--dataset", default="ptbxl", help="dataset of the standardize and DVC benchmarks")
    ap.add_argument("--n", type=int, default=100, help="N of the standardize benchmark (memory run: 10N)")
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--run-records", type=int, default=80)
    ap.add_argument("--dvc-records", type=int, default=1000)
    args = ap.parse_args()
    os.environ.setdefault("CLIMBFLOW_NUM_THREADS", str(os.cpu_count()))
    rows: list[Row] = []
    errors = []
    start = time.perf_counter()
    for name in args.only or list(BENCHES):
        t = time.perf_counter()
        try:
            rows += BENCHES[name](args)
        except Exception as exc:  # one failed benchmark must not hide the others
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"[{name}: {time.perf_counter() - t:.0f} s]", file=sys.stderr, flush=True)
    print(f"machine: {machine()}")
    print()
    print("| benchmark | measured | target | met |")
    print("|---|---|---|---|")
    for what, value, unit, target, met in rows:
        print(f"| {what} | {value:.2f} {unit} | {target} {unit} | {'met' if met else 'NOT met'} |")
    print(f"\n{sum(r[4] for r in rows)}/{len(rows)} targets met; total {time.perf_counter() - start:.0f} s")
    for e in errors:
        print(f"FAILED {e}")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
