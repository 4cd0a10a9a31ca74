"""All performance targets in one table: measured value, target, met / not met, with the machine description.

    PYTHONPATH=src:. python benchmarks/run_all.py [--only standardize|train|noop_run|help|dvc_push ...]

Sub-benchmarks (each runnable alone with ``--only``):
  standardize  standardize vs plain decode (records/s ratio) and peak RSS at N vs 10N (benchmarks/standardize.py)
  train        Lightning vs bare PyTorch step, loader vs model consumption (benchmarks/train_throughput.py)
  cxr          chest X-ray standardize vs decode on real-size JPEGs / DICOMs (benchmarks/cxr_decode.py)
  noop_run     a second, no-op ``climb run`` on a tiny sample (every stage a cache hit, asserted from the ledger)
  help         ``climb --help`` in a cold process
  dvc_push     files a DVC push of a standardized store version touches, per 1,000 samples, at several shard sizes

A benchmark whose measurement would be invalid (e.g. a "no-op" re-run that executed a stage) raises instead of
reporting a number.
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

from standardize import check  # noqa: E402  (benchmarks/ is on sys.path above)

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
        ("Lightning / bare PyTorch step per CPU-second (process time, all threads; robust to shared cores)",
         r["lightning_vs_bare_cpu"], "x", ">= 0.9", r["lightning_vs_bare_cpu"] >= 0.9),
        (f"loader / model consumption ({r['loader']:.0f} vs {r['lightning']:.0f} samples/s)",
         r["loader_vs_model"], "x", ">= 3", r["loader_vs_model"] >= 3),
    ]  # fmt: skip


def bench_cxr(args) -> list[Row]:
    import cxr_decode

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in ("chexpert", "vindr_cxr"):
            r = cxr_decode.measure(dataset, args.cxr_records, Path(tmp))
            ratio = r["ratio (target >= 0.8)"]
            rows.append(
                (f"standardize / decode at real size, {dataset} ({r['MB/record']:.1f} MB/record, "
                 f"{r['standardize rec/s']:.1f} vs {r['plain decode rec/s']:.1f} rec/s, synthetic images)",
                 ratio, "x", ">= 0.8", ratio >= 0.8)
            )  # fmt: skip
    return rows


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


def _run_ids(params: Path) -> set[str]:
    """Pipeline run ids that have a ledger folder in the workspace of ``params``."""
    import yaml

    runs = Path(yaml.safe_load(params.read_text())["workspace"]["root"]) / "runs"
    return {p.name for p in runs.iterdir()} if runs.is_dir() else set()


def cached_stages(params: Path, run_id: str) -> list[dict]:
    """The ledger of one pipeline run; raises unless it recorded stages and every one was a cache hit."""
    from climbflow.config import load
    from climbflow.pipeline_runner import resolve_paths
    from climbflow.stages import ledger

    entries = ledger.read(resolve_paths(load(params), params.parent), run_id)
    ran = sorted(f"{e['stage']}[{e['name']}]" for e in entries if not e["cache_hit"])
    check(bool(entries), f"the re-run {run_id} recorded no stage in its ledger")
    check(not ran, f"the re-run {run_id} was not a no-op: it executed {ran}")
    return entries


def bench_noop_run(args) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        params = _tiny_params(Path(tmp), args.run_records)
        cmd = [*CLIMB, "run", "--params", str(params)]
        start = time.perf_counter()
        subprocess.run(cmd, env=ENV, check=True, capture_output=True, text=True, cwd=tmp)
        first = time.perf_counter() - start
        before = _run_ids(params)
        start = time.perf_counter()
        subprocess.run(cmd, env=ENV, check=True, capture_output=True, text=True, cwd=tmp)
        second = time.perf_counter() - start
        new = _run_ids(params) - before
        check(len(new) == 1, f"expected one new pipeline run in the ledger, found {sorted(new)}")
        cached = cached_stages(params, new.pop())
    return [
        (f"no-op `climb run` re-run (first run {first:.0f} s, {args.run_records} records, 1 epoch; "
         f"all {len(cached)} stages cache hits per the run ledger)", second, "s", "<= 30", second <= 30),
    ]  # fmt: skip


def bench_help(args) -> list[Row]:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([*CLIMB, "--help"], env=ENV, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    return [("`climb --help`, cold process (median of 3)", t, "s", "<= 1.0", t <= 1.0)]


def pushed_objects(remote: Path, store: Path) -> tuple[int, int]:
    """(objects of the store version on the DVC remote, of which shards); raises if any is missing there."""
    import json

    from climbflow.store.versioning import read_dvc_file

    md5 = read_dvc_file(store).md5  # "<hash>.dir": the version's directory listing
    listing = next(remote.rglob(md5[2:]), None)
    check(listing is not None, f"{store}: version {md5} is not on the remote {remote}")
    entries = json.loads(listing.read_text())
    missing = [e["relpath"] for e in entries if next(remote.rglob(e["md5"][2:]), None) is None]
    check(not missing, f"{store}: {len(missing)} files of the version are not on the remote: {missing[:3]}")
    on_disk = sorted(p.name for p in (store / "shards").iterdir())
    shards = [e for e in entries if e["relpath"].startswith("shards/")]
    check(len(shards) == len(on_disk), f"{store}: {len(shards)} shards pushed, {len(on_disk)} in the store")
    return 1 + len(entries), len(shards)


def bench_dvc_push(args) -> list[Row]:
    import standardize as std
    import yaml

    from climbflow import sampledata

    shipped = yaml.safe_load((REPO / "params.yaml").read_text())["standardize"]["shard_size"]
    counts = {}  # shard_size -> (files pushed, of which shards)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = sampledata.write(args.dataset, work / "raw", args.dvc_records, seed=0)
        prep = std.prepare(std.params_file(work, args.dataset, source, shipped), args.dataset)
        for size in sorted(
            {*args.dvc_shard_sizes, shipped}
        ):  # one snapshot + validation, one version per size
            r = std.run_standardize(std.params_file(work, args.dataset, source, size), args.dataset, prep)
            n, counts[size] = r["n"], pushed_objects(work / "workspace" / "dvc-remote", Path(r["uri"]))
            got = counts[size][1]
            check(got == math.ceil(n / size), f"shard_size {size}: {got} shards for {n} records")
    check(
        len({c[1] for c in counts.values()}) > 1, f"the shard count did not change with shard_size: {counts}"
    )
    files, shards = counts[shipped]
    others = ", ".join(f"{k}: {v[1]}" for k, v in counts.items() if k != shipped)
    per_started_k = shards / math.ceil(n / 1000)  # a partial last thousand may have its own shard
    return [
        (f"DVC push of a standardized version: {files} files for {n} samples = {shards} shard(s) (shipped "
         f"shard_size {shipped}; {shards * 1000 / n:.2f} per 1k) + {files - shards} fixed; shards at other "
         f"shard_size: {others}", per_started_k, "shards per started 1k", "<= 1", per_started_k <= 1),
    ]  # fmt: skip


BENCHES: dict[str, Callable] = {
    "standardize": bench_standardize,
    "train": bench_train,
    "cxr": bench_cxr,
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
    ap.add_argument("--cxr-records", type=int, default=16, help="N of the cxr benchmark (and 3N)")
    ap.add_argument("--run-records", type=int, default=80)
    ap.add_argument("--dvc-records", type=int, default=1500, help="not a multiple of the shipped shard size")
    ap.add_argument("--dvc-shard-sizes", type=int, nargs="+", default=[250], help="besides the shipped one")
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
