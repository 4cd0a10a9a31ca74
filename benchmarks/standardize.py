"""Standardize throughput and memory: ECG (PTB-XL layout) and chest X-ray (CheXpert layout).

For each dataset: records/s and MB/s (raw bytes read) of the standardize stage (one worker; the marginal rate
between N and 10N records, i.e. without the fixed per-run cost of reading the index and DVC-pushing the version)
vs a plain decode of the same files (target ratio >= 0.8), and the standardize process's peak RSS at N and 10N
(target ratio <= 1.2: memory must not grow with the dataset). Each measurement runs in a fresh process.

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
from climbflow.stages import ingest, standardize, validate
from climbflow.stages.common import open_spec, read_index, snapshot_files

mode, params_path, dataset = sys.argv[1:4]
params = resolve_paths(load(params_path), Path(params_path).parent)
snap = ingest.run(params, dataset)
root = snapshot_files(params, snap.uri)
raw_bytes = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
if mode == "decode":
    spec = open_spec(params, dataset)
    records, _ = read_index(spec, root)
    start = time.perf_counter()
    for rec in records:
        spec.decode(root, rec)
    seconds, n = time.perf_counter() - start, len(records)
else:
    val = validate.run(params, dataset, snap.uri)
    start = time.perf_counter()
    out = standardize.run(params, dataset, snap.uri, val.uri)
    seconds, n = time.perf_counter() - start, out.report["n_samples"] + out.report["n_quarantined"]
print(json.dumps({"seconds": seconds, "n": n, "raw_mb": raw_bytes / 1e6,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _params(tmp: Path, dataset: str, source: Path) -> Path:
    import yaml

    data = yaml.safe_load((REPO / "params.yaml").read_text())
    options = data["datasets"].get(dataset, {}).get("options", {})
    data["workspace"]["root"] = str(tmp / "workspace")
    data["datasets"] = {dataset: {"source": str(source), "options": options}}
    data["finetune"]["targets"] = [dataset]
    data["standardize"]["workers"] = 1
    data["standardize"]["shard_size"] = 100  # several shards even at N, so N vs 10N compares like with like
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _child(mode: str, params: Path, dataset: str) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}", "CLIMBFLOW_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", CHILD, mode, str(params), dataset]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(dataset: str, n: int, tmp: Path) -> dict:
    from climbflow import sampledata

    runs = {}
    for scale in (1, 10):
        work = tmp / f"{dataset}-{scale}"
        source = sampledata.write(dataset, work / "raw", n * scale, seed=0)
        params = _params(work, dataset, source)
        runs[scale] = _child("standardize", params, dataset)
        if scale == 1:
            decode = _child("decode", params, dataset)
    std, big = runs[1], runs[10]
    dec_rps = decode["n"] / decode["seconds"]
    # marginal rate between N and 10N: per-record work only, without the fixed per-run cost (index read,
    # DVC add + push of the version), which would dominate for fast-decoding files such as small JPGs
    std_rps = (big["n"] - std["n"]) / max(big["seconds"] - std["seconds"], 1e-9)
    mb_per_record = std["raw_mb"] / std["n"]
    return {
        "dataset": dataset,
        "N": std["n"],
        "standardize rec/s": std_rps,
        "decode rec/s": dec_rps,
        "standardize MB/s": std_rps * mb_per_record,
        "decode MB/s": decode["raw_mb"] / decode["seconds"],
        "standardize at N incl. fixed cost (s)": std["seconds"],
        "ratio (target >= 0.8)": std_rps / dec_rps,
        "peak RSS at N (MB)": std["peak_rss_mb"],
        "peak RSS at 10N (MB)": runs[10]["peak_rss_mb"],
        "RSS 10N / N (target <= 1.2)": runs[10]["peak_rss_mb"] / std["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=150, help="N records (the memory run uses 10N)")
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
        f"\nmachine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; RSS = peak of the standardize process"
    )


if __name__ == "__main__":
    main()
