"""Chest X-ray standardize vs plain decode at real file sizes: CheXpert-sized JPEGs and VinDr-sized DICOMs.

    PYTHONPATH=src:. python benchmarks/cxr_decode.py [--n 12] [--datasets chexpert vindr_cxr]

The sample writers make small images (64-512 px), where per-record bookkeeping dominates. Here each sample
copy is written in its real layout and then every image is replaced, at the same path, by one of real size:
CheXpert ~2,320 x 2,828 8-bit grayscale JPEGs (quality 90, the sample image upscaled plus noise) and
VinDr-CXR 3,000 x 3,000 12-bit MONOCHROME2 DICOMs (uncompressed, ~18 MB). Then, as in ``benchmarks/standardize.py``:
the standardize stage's marginal per-record rate between N and 3N (one worker) against the catalog's plain
decode of the same files, also marginal, at full resolution (target >= 0.8); for reference, in-process
rates of a full-resolution decode and of a decode for the target size (JPEG draft), the floor standardize
cannot beat. Numbers are for synthetic images of real size, not real radiographs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO), str(REPO / "benchmarks")]

import standardize as std  # noqa: E402

JPEG_SIZE = (2828, 2320)  # (H, W): a typical CheXpert frontal view
DICOM_SIZE = (3000, 3000)
SIZE = 224  # CLIMB's image side (the shipped params.yaml uses 64 for a fast one-machine default)
SCALE = 3  # standardize N and SCALE * N records: the marginal rate excludes the fixed per-run cost


def _texture(rng: np.random.Generator, shape: tuple[int, int], small: np.ndarray | None = None) -> np.ndarray:
    """float32 0..1: the sample's image (or smooth noise) upscaled, plus fine film-like noise."""
    from PIL import Image

    h, w = shape
    if small is None:
        small = rng.random((24, 20)).astype(np.float32)
    base = Image.fromarray((np.asarray(small, np.float32) * 255).clip(0, 255).astype(np.uint8))
    img = np.asarray(base.resize((w, h), Image.Resampling.BICUBIC), np.float32) / 255.0
    return np.clip(img + rng.normal(0.0, 0.03, shape).astype(np.float32), 0.0, 1.0)


def enlarge_jpegs(root: Path, seed: int = 0) -> int:
    """Replace every .jpg under ``root`` by a JPEG_SIZE grayscale one drawn from it; returns the count."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    files = sorted(root.rglob("*.jpg"))
    for path in files:
        with Image.open(path) as im:
            small = np.asarray(im.convert("L"), np.float32) / 255.0
        pix = (_texture(rng, JPEG_SIZE, small) * 255).astype(np.uint8)
        Image.fromarray(pix, "L").save(path, format="JPEG", quality=90)
    return len(files)


def enlarge_dicoms(root: Path, seed: int = 0) -> int:
    """Replace the pixels of every .dcm under ``root`` by DICOM_SIZE 12-bit values (same header otherwise)."""
    import pydicom

    rng = np.random.default_rng(seed)
    files = sorted([*root.rglob("*.dcm"), *root.rglob("*.dicom")])
    for path in files:
        ds = pydicom.dcmread(path)
        small = ds.pixel_array.astype(np.float32)
        small = (small - small.min()) / max(float(np.ptp(small)), 1.0)
        pix = (_texture(rng, DICOM_SIZE, small) * 4095).astype(np.uint16)
        ds.Rows, ds.Columns = DICOM_SIZE
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = pix.tobytes()
        for key in ("WindowCenter", "WindowWidth"):
            if key in ds:
                delattr(ds, key)
        ds.save_as(path, enforce_file_format=True)
    return len(files)


ENLARGE = {"chexpert": enlarge_jpegs, "mimic_cxr": enlarge_jpegs, "vindr_cxr": enlarge_dicoms}


def decode_rates(root: Path, size: int) -> tuple[float, float]:
    """records/s of (full-resolution decode, decode for ``size`` px) of every image file under ``root``: PIL
    ``load()`` without / with JPEG draft (DCT scaling); DICOMs have no draft, both are ``pixel_array``."""
    import pydicom

    from climbflow.catalog.images import read_image

    files = sorted([*root.rglob("*.jpg"), *root.rglob("*.dcm"), *root.rglob("*.dicom")])
    rates = []
    for draft in (None, size):
        start = time.perf_counter()
        for path in files:
            if path.suffix == ".jpg":
                read_image(path, "gray", draft_size=draft)
            else:
                pydicom.dcmread(path).pixel_array  # noqa: B018
        rates.append(len(files) / (time.perf_counter() - start))
    return rates[0], rates[1]


def at_size(params: Path, size: int) -> Path:
    """The params file with image2d standardized to ``size`` px (the rest as in benchmarks/standardize.py)."""
    import yaml

    data = yaml.safe_load(params.read_text())
    data["standardize"]["image2d"]["size"] = size
    params.write_text(yaml.safe_dump(data, sort_keys=False))
    return params


def measure(dataset: str, n: int, tmp: Path) -> dict:
    from climbflow import sampledata

    std_runs, dec_runs, prep = {}, {}, {}
    for scale in (1, SCALE):
        work = tmp / f"{dataset}-{scale}"
        source = sampledata.write(dataset, work / "raw", n * scale, seed=0)
        ENLARGE[dataset](source, seed=scale)
        params = at_size(std.params_file(work, dataset, source), SIZE)
        prep[scale] = std.prepare(params, dataset)
        dec_runs[scale] = std.child("decode", params, dataset, prep[scale]["snapshot"])
        std_runs[scale] = std.run_standardize(params, dataset, prep[scale])
        if scale == 1:
            full, draft = decode_rates(source, SIZE)
    std_rps = std.marginal_rate(std_runs[1], std_runs[SCALE], f"{dataset} standardize")
    dec_rps = std.marginal_rate(dec_runs[1], dec_runs[SCALE], f"{dataset} decode")
    return {
        "dataset": dataset,
        "N": std_runs[1]["n"],
        "MB/record": prep[1]["raw_mb"] / std_runs[1]["n"],
        "standardize rec/s": std_rps,
        "plain decode rec/s": dec_rps,
        "ratio (target >= 0.8)": std_rps / dec_rps,
        "full-res decode rec/s (in-process)": full,
        "decode at target size rec/s (in-process)": draft,
        "standardize / decode at target size": std_rps / draft,
        "standardize s at N / 3N": f"{std_runs[1]['seconds']:.1f} / {std_runs[SCALE]['seconds']:.1f}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=12, help=f"N records (the marginal run uses {SCALE}N)")
    ap.add_argument("--datasets", nargs="+", default=["chexpert", "vindr_cxr"], choices=sorted(ENLARGE))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for i, dataset in enumerate(args.datasets):
            r = measure(dataset, args.n, Path(tmp))
            if i == 0:
                print("| " + " | ".join(r) + " |")
                print("|" + "|".join("---" for _ in r) + "|")
            cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in r.values()]
            print("| " + " | ".join(cells) + " |", flush=True)
    print(f"image2d standardized to {SIZE} px; synthetic images of real size; one standardize worker")


if __name__ == "__main__":
    main()
