"""DVC's console notices stay off stdout, which `climb stage` keeps machine-readable (JSON only)."""

from __future__ import annotations

import subprocess
import sys


def test_initializing_the_dvc_repo_prints_nothing_on_stdout(tmp_path):
    code = (
        "from pathlib import Path; from climbflow.store.versioning import ensure_repo; "
        f"ensure_repo(Path({str(tmp_path / 'ws')!r}), {str(tmp_path / 'remote')!r})"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (tmp_path / "ws" / ".dvc").is_dir()
    assert done.stdout == ""  # before: "Initialized DVC repository."
    assert "Initialized DVC repository" in done.stderr
