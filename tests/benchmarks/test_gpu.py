"""``benchmarks/gpu.py --device cpu --tiny``: every code path of the GPU benchmark, in seconds, on CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN = """
import runpy, sys
sys.argv = ["gpu.py", "--device", "cpu", "--tiny", "--steps", "2"]
runpy.run_path("benchmarks/gpu.py", run_name="__main__")
print("LOADED", sorted(m for m in ("mlflow", "kfp", "dvc", "great_expectations") if m in sys.modules))
"""


def test_tiny_cpu_run_prints_the_whole_table_without_service_libraries() -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO / 'benchmarks'}", "CLIMBFLOW_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", RUN]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [x for x in out.stdout.splitlines() if x.startswith("| ") and not x.startswith("| encoder")]
    rows = [line.split(" | ") for line in lines]
    runs = {(r[0].lstrip("| "), r[1].split(",")[0]) for r in rows}
    for encoder in ("ECG ResNet1d w8 (tiny)", "ConvNeXt-V2-atto 32 (tiny)"):
        for run in ("(a) bare PyTorch", "(b) Lightning step", "(c) pretrain() from store", "loader alone"):
            assert (encoder, run) in runs, (encoder, run, out.stdout)
    for r in rows:
        assert float(r[2]) > 0 and float(r[3]) > 0  # samples/s and the ratio to the bare loop
        if r[1].startswith("(a)"):
            assert float(r[5].rstrip(" |")) > 0  # TFLOP/s from the counted FLOPs
    assert "LOADED []" in out.stdout  # runs on a bare GPU box: no MLflow / kfp / DVC / GX imports
