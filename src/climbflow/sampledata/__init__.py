"""Small deterministic copies of the datasets in their real layouts, with learnable class structure."""

from __future__ import annotations

import importlib
from pathlib import Path

WRITERS = {
    "ptbxl": "climbflow.sampledata.ptbxl:write_ptbxl",
    "chexpert": "climbflow.sampledata.chexpert:write_chexpert",
}


def write(dataset: str, root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """Write the sample copy of ``dataset`` into ``root`` (written to a temp dir, then renamed into place)."""
    import os
    import shutil
    import tempfile

    if dataset not in WRITERS:
        raise ValueError(f"no sample-data writer for {dataset!r}; available: {sorted(WRITERS)}")
    module, func = WRITERS[dataset].split(":")
    writer = getattr(importlib.import_module(module), func)
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        writer(tmp, n_records, seed=seed, shuffle_labels=shuffle_labels)
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root
