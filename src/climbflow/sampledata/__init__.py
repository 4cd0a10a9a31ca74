"""Small deterministic copies of the datasets in their real layouts, with learnable class structure.

A tool (``climb sample-data``), not part of the runtime path: the stages, ``climbflow.train`` and the registry
never import it. Only ``cli.py`` (``climb sample-data``) and ``pipeline_runner.ensure_sample_data`` (sample
setup before ``climb run``) import it, lazily; it in turn may import the catalog (the real layouts it mirrors).
"""

from __future__ import annotations

import importlib
from pathlib import Path

# dataset -> "module:function(root, n_records, seed=..., shuffle_labels=...)"
WRITERS = {
    "ptbxl": "climbflow.sampledata.ptbxl:write_ptbxl",
    "chapman": "climbflow.sampledata.cinc2021:write_chapman",
    "georgia": "climbflow.sampledata.cinc2021:write_georgia",
    "cpsc2018": "climbflow.sampledata.cinc2021:write_cpsc2018",
    "tuab": "climbflow.sampledata.tuh:write_tuab",
    "tuev": "climbflow.sampledata.tuh:write_tuev",
    "chexpert": "climbflow.sampledata.chexpert:write_chexpert",
    "mimic_cxr": "climbflow.sampledata.mimic_cxr:write_mimic_cxr",
    "vindr_cxr": "climbflow.sampledata.dicom_images:write_vindr_cxr",
    "cbis_ddsm": "climbflow.sampledata.dicom_images:write_cbis_ddsm",
    "ham10000": "climbflow.sampledata.color_images:write_ham10000",
    "isic2020": "climbflow.sampledata.color_images:write_isic2020",
    "aptos": "climbflow.sampledata.color_images:write_aptos",
    "busi": "climbflow.sampledata.color_images:write_busi",
    "kits23": "climbflow.sampledata.kits23:write_kits23",
    "echonet": "climbflow.sampledata.echonet:write_echonet",
    "echonet_ef": "climbflow.sampledata.echonet:write_echonet",
    "mimic4": "climbflow.sampledata.mimic4:write_mimic4",
    "mimic4_cxr": "climbflow.sampledata.mimic4:write_mimic4",
    "mimic4_ecg": "climbflow.sampledata.mimic4:write_mimic4",
    "abide": "climbflow.sampledata.abide:write_abide",
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
