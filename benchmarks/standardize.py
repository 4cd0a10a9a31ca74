"""Standardize throughput and memory: ECG (PTB-XL layout) and chest X-ray (CheXpert layout).

For each dataset, on a sample of N and one of 10N records (ingest + validate run first, in their own process):

* records/s and MB/s (raw bytes read) of the standardize stage (one worker) vs a plain decode of the same files
  (target ratio >= 0.8). Both are measured the same way: the **marginal** rate between N and 10N records, so
  neither side counts a fixed per-run cost (standardize: reading the index, DVC add + push; decode: the index);
* the peak RSS (``VmHWM``) of a fresh process that runs standardize alone (imports + the stage, no ingest or GX
  validation before it) at N and 10N (target ratio <= 1.2: memory must not grow with the dataset). Not
  ``ru_maxrss``: on Linux it carries the forking parent's RSS over ``exec``, so it measured this script.

Every measurement runs in a fresh process. Self-checks raise :class:`InvalidMeasurement` when a number would not
mean what its label says (a cached stage, a different record count on the two sides, GX loaded in the
measured process, no time difference between N and 10N).

    python benchmarks/standardize.py [--n 150] [--datasets ptbxl chexpert]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from climbflow.config import load
from climbflow.pipeline_runner import resolve_paths


def peak_rss_mb():
    # VmHWM: this process's own high-water mark (ru_maxrss also holds the forked parent's RSS, kept over exec)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024


mode, params_path, dataset = sys.argv[1:4]
params = resolve_paths(load(params_path), Path(params_path).parent)
out = {}
if mode == "prepare":
    from climbflow.stages import ingest, validate
    from climbflow.stages.common import snapshot_files

    snap = ingest.run(params, dataset)
    val = validate.run(params, dataset, snap.uri)
    root = snapshot_files(params, snap.uri)
    out = {"snapshot": snap.uri, "validation": val.uri,
           "raw_mb": sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6}
elif mode == "decode":
    from climbflow.stages.common import open_spec, read_index, snapshot_files

    spec, root = open_spec(params, dataset), snapshot_files(params, sys.argv[4])
    records, _ = read_index(spec, root)
    start = time.perf_counter()
    for rec in records:
        spec.decode(root, rec)
    out = {"seconds": time.perf_counter() - start, "n": len(records)}
else:
    from climbflow.stages import standardize

    rss_before = peak_rss_mb()
    start = time.perf_counter()
    res = standardize.run(params, dataset, sys.argv[4], sys.argv[5])
    out = {"seconds": time.perf_counter() - start, "cache_hit": res.cache_hit, "uri": res.uri,
           "n": res.report["n_samples"] + res.report["n_quarantined"], "rss_before_mb": rss_before,
           "gx_loaded": any(m.split(".")[0] == "great_expectations" for m in sys.modules),
           "children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss > 0}
out["peak_rss_mb"] = peak_rss_mb()
print(json.dumps(out))
"""


class InvalidMeasurement(AssertionError):
    """A benchmark number would not measure what its label says."""


def check(ok: bool, why: str) -> None:
    if not ok:
        raise InvalidMeasurement(why)


def params_file(tmp: Path, dataset: str, source: Path, shard_size: int = 100) -> Path:
    """A params.yaml for one dataset: private workspace, one standardize worker, the given shard size."""
    import yaml

    data = yaml.safe_load((REPO / "params.yaml").read_text())
    options = data["datasets"].get(dataset, {}).get("options", {})
    data["workspace"]["root"] = str(tmp / "workspace")
    data["datasets"] = {dataset: {"source": str(source), "options": options}}
    data["finetune"]["targets"] = [dataset]
    data["standardize"]["workers"] = 1
    data["standardize"]["shard_size"] = shard_size  # default 100: several shards even at N (like with like)
    path = tmp / f"params-{shard_size}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def child(mode: str, params: Path, dataset: str, *extra: str) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}", "CLIMBFLOW_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", CHILD, mode, str(params), dataset, *extra]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare(params: Path, dataset: str) -> dict:
    """ingest + validate in their own process: ``{snapshot, validation, raw_mb}``."""
    return child("prepare", params, dataset)


def run_standardize(params: Path, dataset: str, prep: dict) -> dict:
    """standardize alone in a fresh process; raises when it was a cache hit or GX was loaded in it."""
    r = child("standardize", params, dataset, prep["snapshot"], prep["validation"])
    check(not r["cache_hit"], f"{dataset}: standardize was a cache hit ({r['uri']}): nothing was timed")
    check(not r["gx_loaded"], f"{dataset}: Great Expectations was loaded in the measured standardize process")
    check(
        not r["children"], f"{dataset}: standardize ran child processes, whose memory is not in its peak RSS"
    )
    return r


def marginal_rate(small: dict, big: dict, what: str) -> float:
    """Records/s between two runs: (n_big - n_small) / (t_big - t_small)."""
    dn, dt = big["n"] - small["n"], big["seconds"] - small["seconds"]
    check(dn > 0 and dt > 0, f"{what}: 10N run not larger/slower than N ({dn} records, {dt:.3f} s)")
    return dn / dt


def measure(dataset: str, n: int, tmp: Path) -> dict:
    from climbflow import sampledata

    std, dec, prep = {}, {}, {}
    for scale in (1, 10):
        work = tmp / f"{dataset}-{scale}"
        source = sampledata.write(dataset, work / "raw", n * scale, seed=0)
        params = params_file(work, dataset, source)
        prep[scale] = prepare(params, dataset)
        dec[scale] = child("decode", params, dataset, prep[scale]["snapshot"])
        std[scale] = run_standardize(params, dataset, prep[scale])
        check(
            std[scale]["n"] == dec[scale]["n"],
            f"{dataset} at {scale}N: standardize saw {std[scale]['n']} records, decode {dec[scale]['n']}",
        )
    std_rps = marginal_rate(std[1], std[10], f"{dataset} standardize")
    dec_rps = marginal_rate(dec[1], dec[10], f"{dataset} decode")
    mb_per_record = prep[1]["raw_mb"] / std[1]["n"]
    return {
        "dataset": dataset,
        "N": std[1]["n"],
        "standardize rec/s": std_rps,
        "decode rec/s": dec_rps,
        "standardize MB/s": std_rps * mb_per_record,
        "decode MB/s": dec_rps * mb_per_record,
        "standardize at N incl. fixed cost (s)": std[1]["seconds"],
        "ratio (target >= 0.8)": std_rps / dec_rps,
        "RSS after imports (MB)": std[1]["rss_before_mb"],
        "peak RSS at N (MB)": std[1]["peak_rss_mb"],
        "peak RSS at 10N (MB)": std[10]["peak_rss_mb"],
        "RSS 10N / N (target <= 1.2)": std[10]["peak_rss_mb"] / std[1]["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=150, help="N records (the second run uses 10N)")
    parser.add_argument("--datasets", nargs="+", default=["ptbxl", "chexpert"])
    args = parser.parse_args()
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    with tempfile.TemporaryDirectory() as tmp:
        results = [measure(d, args.n, Path(tmp)) for d in args.datasets]
    cols = list(results[0])
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for r in results:
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in r.values()) + " |")
    print(
        f"\nmachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; synthetic sample data; RSS = peak "
        "of a fresh process running standardize alone"
    )


if __name__ == "__main__":
    main()
