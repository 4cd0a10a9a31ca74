"""A small, deterministic KiTS23 copy in the real layout, with renal masses whose look follows their pathology.

``write_kits23(root, n)`` writes ``root/dataset/kits23.json`` and, per case, ``root/dataset/case_XXXXX/``
``imaging.nii.gz`` (HU stored as int16 with ``scl_inter = -1024``; 32 slices of 64x64, ~4 mm voxels) and
``segmentation.nii.gz`` (uint8: 1 kidney, 2 tumour, 3 cyst). Arrays are stored like KiTS's: slices first
(superior to inferior), rows anterior to posterior, columns patient-right to left, with the matching affine.

Each abdomen has air, subcutaneous fat, soft tissue whose texture comes from nibabel's bundled real MRI
(``tests/data/anatomical.nii``), spine, aorta, liver and two enhancing kidneys (cortex brighter than medulla).
One kidney carries the mass; its appearance follows the histology drawn for the case:

* clear-cell RCC (malignant): heterogeneous, avidly enhancing, lobulated, often a necrotic core;
* papillary RCC (malignant): homogeneous and hypo-enhancing; chromophobe RCC (malignant): homogeneous;
* angiomyolipoma (benign): contains macroscopic fat; oncocytoma (benign): homogeneous, sometimes a
  central scar, and hard to tell from chromophobe RCC (as in real CT),

so malignancy is learnable but not trivially. Sizes overlap between classes; a simple cyst sometimes sits in
the other kidney as a distractor. ``shuffle_labels`` permutes ``malignant`` (and the subtype) across cases
after the volumes are drawn (negative control).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter, zoom

from climbflow.catalog.kits23 import DATA_DIR, IMAGING, SEGMENTATION

logger = logging.getLogger(__name__)

SHAPE = (32, 64, 64)  # (slices, rows, cols)
METADATA = "kits23.json"
MALIGNANT_FRACTION = 0.6
MALIGNANT_SUBTYPES = (("clear_cell_rcc", 0.65), ("papillary_rcc", 0.2), ("chromophobe_rcc", 0.15))
BENIGN_SUBTYPES = (("angiomyolipoma", 0.5), ("oncocytoma", 0.5))
HU_OFFSET = -1024.0  # scl_inter: stored int16 = HU + 1024


@functools.cache
def _texture() -> np.ndarray:
    """nibabel's real anatomical MRI resampled to SHAPE, zero mean, unit std (soft-tissue heterogeneity)."""
    import nibabel as nib

    path = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
    data = np.asarray(nib.load(str(path)).get_fdata(dtype=np.float32)).transpose(2, 1, 0)  # (25, 41, 33)
    data = zoom(data, [s / n for s, n in zip(SHAPE, data.shape, strict=True)], order=1)[
        tuple(map(slice, SHAPE))
    ]
    return ((data - data.mean()) / (data.std() + 1e-6)).astype(np.float32)


def _pick(rng: np.random.Generator, options: tuple[tuple[str, float], ...]) -> str:
    names, p = zip(*options, strict=True)
    return str(rng.choice(names, p=np.asarray(p) / sum(p)))


class _Grid:
    """Voxel coordinates in mm of one case (z: slice, y: row, x: col), centred on the volume."""

    def __init__(self, spacing: tuple[float, float, float], y_centre: float):
        self.spacing = spacing
        d, h, w = SHAPE
        self.z = ((np.arange(d) - d / 2) * spacing[0])[:, None, None]
        self.y = ((np.arange(h) - h / 2) * spacing[1] + y_centre)[None, :, None]
        self.x = ((np.arange(w) - w / 2) * spacing[2])[None, None, :]

    def ellipsoid(self, c: tuple[float, float, float], r: tuple[float, float, float]) -> np.ndarray:
        """Normalised radius (1 on the surface) of an axis-aligned ellipsoid centred at ``c`` (mm)."""
        return np.sqrt(
            ((self.z - c[0]) / r[0]) ** 2 + ((self.y - c[1]) / r[1]) ** 2 + ((self.x - c[2]) / r[2]) ** 2
        )


def _lobulated(
    grid: _Grid, c: tuple[float, float, float], radius: float, rng: np.random.Generator, amp: float
):
    """Radius map of a sphere whose surface is modulated by a few angular harmonics (``amp`` = 0: smooth)."""
    dz, dy, dx = grid.z - c[0], grid.y - c[1], grid.x - c[2]
    dist = np.sqrt(dz**2 + dy**2 + dx**2) + 1e-6
    theta, phi = np.arccos(np.clip(dz / dist, -1, 1)), np.arctan2(dy, dx)
    bumps = sum(
        rng.uniform(-1, 1) * np.cos(k * phi + rng.uniform(0, 6.3)) * np.sin(theta) ** k for k in (2, 3, 5)
    )
    return dist / (radius * (1.0 + amp * bumps / 3.0))


Kidney = tuple[tuple[float, float, float], tuple[float, float, float]]  # centre, radii (mm)


def _draw_case(rng: np.random.Generator, subtype: str) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """HU volume (float32), segmentation (uint8) and tumour facts of one case."""
    pixel = rng.uniform(2.7, 3.2)  # the field of view is centred on the kidneys (the body is cropped)
    spacing = (float(rng.choice([3.0, 4.0, 5.0])), pixel, pixel)
    g = _Grid(spacing, y_centre=rng.uniform(15, 30))
    hu, body, body_ry = _abdomen(rng, g)
    seg = np.zeros(SHAPE, np.uint8)
    kidneys = _kidneys(rng, g, hu, seg, body_ry)
    side = int(rng.integers(2))
    malignant = subtype.endswith("_rcc")
    radius = rng.uniform(18, 40) if malignant else rng.uniform(12, 30)  # malignant masses tend to be larger
    centre = _mass_centre(rng, kidneys[side], lateral=1 if side == 1 else -1)
    noise = gaussian_filter(rng.standard_normal(SHAPE).astype(np.float32), 1.5) * 3.5  # ~unit std, coarse
    seg[_mass(rng, g, hu, subtype, centre, radius, noise)] = 2
    if rng.random() < 0.3:  # a simple cyst in the other kidney
        oc, okr = kidneys[1 - side]
        cc = (
            oc[0] + rng.normal(0, 15),
            oc[1] + rng.normal(0, 6),
            oc[2] + (1 if side == 0 else -1) * okr[2] * 0.6,
        )
        cyst = g.ellipsoid(cc, (rng.uniform(6, 14),) * 3) < 1
        hu[cyst] = rng.uniform(0, 15)
        seg[cyst] = 3
    hu += np.where(body < 1.0, 5.0, 2.0) * rng.standard_normal(SHAPE).astype(np.float32)  # quantum noise
    facts = {"radius_mm": float(radius), "spacing": spacing}
    return hu.astype(np.float32), seg, facts  # type: ignore[return-value]


def _abdomen(rng: np.random.Generator, g: _Grid) -> tuple[np.ndarray, np.ndarray, float]:
    """HU volume of air, subcutaneous fat, textured soft tissue, spine, aorta and liver; returns it, the
    body's normalised radius map and its antero-posterior radius (mm)."""
    tex = _texture()
    tex = tex[:, :, ::-1] if rng.random() < 0.5 else tex
    tex = np.roll(tex, int(rng.integers(-8, 9)), axis=2)
    body_ry, body_rx = rng.uniform(95, 115), rng.uniform(125, 150)
    body = np.sqrt((g.y / body_ry) ** 2 + (g.x / body_rx) ** 2) + 0 * g.z
    hu = np.full(SHAPE, -1000.0, np.float32)
    hu[body < 1.0] = -100.0  # subcutaneous fat
    inner = body < 1.0 - rng.uniform(0.08, 0.16)
    hu[inner] = 45.0
    hu += np.where(inner, 18.0 * tex, 0.0)
    spine = np.sqrt((g.y - 0.55 * body_ry) ** 2 + g.x**2) + 0 * g.z
    hu[spine < 16] = 450.0
    aorta = np.sqrt((g.y - 0.25 * body_ry) ** 2 + (g.x - 10) ** 2) + 0 * g.z  # x > 0: patient's left
    hu[aorta < 10] = 220.0
    liver = g.ellipsoid((-35, -5, -55), (60, 55, 60))
    hu[(liver < 1) & inner] = 65.0
    return hu, body, body_ry


def _kidneys(
    rng: np.random.Generator, g: _Grid, hu: np.ndarray, seg: np.ndarray, body_ry: float
) -> list[Kidney]:
    """Two enhancing kidneys (cortex brighter than medulla), drawn into ``hu`` and labelled 1 in ``seg``;
    returns [patient's right, left]."""
    kidneys = []
    for side in (-1, 1):  # -1: patient's right (image left), +1: left
        c = (
            rng.normal(0, 6) + (8 if side < 0 else 0),
            0.4 * body_ry + rng.normal(0, 4),
            side * rng.uniform(50, 62),
        )
        r = (rng.uniform(45, 55), rng.uniform(24, 30), rng.uniform(22, 27))
        shell = g.ellipsoid(c, r)
        kidney = shell < 1
        hu[kidney] = rng.uniform(160, 200)  # enhancing cortex (corticomedullary phase)
        hu[shell < 0.6] = rng.uniform(130, 160)  # medulla (nephrographic: close to the cortex)
        seg[kidney] = 1
        kidneys.append((c, r))
    return kidneys


def _mass_centre(rng: np.random.Generator, kidney: Kidney, lateral: int) -> tuple[float, float, float]:
    """A point in the outer half of ``kidney``, on its lateral side (``lateral``: +1 / -1 along x)."""
    kc, kr = kidney
    direction = np.array([rng.normal(0, 0.5), rng.normal(0, 0.6), lateral * 1.0])
    direction /= np.linalg.norm(direction)
    z, y, x = (float(kc[i] + direction[i] * kr[i] * rng.uniform(0.5, 0.9)) for i in range(3))
    return z, y, x


def _mass(
    rng: np.random.Generator,
    g: _Grid,
    hu: np.ndarray,
    subtype: str,
    centre: tuple[float, float, float],
    radius: float,
    noise: np.ndarray,
) -> np.ndarray:
    """Draw the renal mass into ``hu`` with its subtype's look (see the module docstring); returns its mask."""
    if subtype == "clear_cell_rcc":
        r_map = _lobulated(g, centre, radius, rng, amp=rng.uniform(0.25, 0.5))
        mass = r_map < 1
        hu[mass] = rng.uniform(130, 180) + 60 * noise[mass]
        if rng.random() < 0.8:
            hu[mass & (r_map < rng.uniform(0.4, 0.65))] = rng.uniform(0, 25)  # necrosis
    elif subtype == "papillary_rcc":
        r_map = _lobulated(g, centre, radius, rng, amp=rng.uniform(0.0, 0.15))
        mass = r_map < 1
        hu[mass] = rng.uniform(40, 70) + 8 * noise[mass]
    elif subtype == "chromophobe_rcc":
        r_map = _lobulated(g, centre, radius, rng, amp=rng.uniform(0.0, 0.2))
        mass = r_map < 1
        hu[mass] = rng.uniform(80, 115) + 12 * noise[mass]
    elif subtype == "oncocytoma":
        r_map = _lobulated(g, centre, radius, rng, amp=rng.uniform(0.0, 0.1))
        mass = r_map < 1
        hu[mass] = rng.uniform(85, 120) + 10 * noise[mass]
        if radius > 14 and rng.random() < 0.35:
            hu[mass & (r_map < 0.25)] = rng.uniform(30, 50)  # central scar
    else:  # angiomyolipoma: fat inside
        r_map = _lobulated(g, centre, radius, rng, amp=rng.uniform(0.0, 0.15))
        mass = r_map < 1
        fat = gaussian_filter(rng.standard_normal(SHAPE).astype(np.float32), 1.5) > rng.uniform(-0.15, 0.1)
        hu[mass] = np.where(fat[mass], rng.uniform(-100, -60), rng.uniform(40, 70)) + 10 * noise[mass]
    return mass


def _affine(spacing: tuple[float, float, float]) -> np.ndarray:
    """KiTS's storage orientation: axis 0 -> inferior (-z), axis 1 -> posterior (-y), axis 2 -> left (-x)."""
    sz, sy, sx = spacing
    d, h, w = SHAPE
    return np.array(
        [
            [0.0, 0.0, -sx, sx * w / 2],
            [0.0, -sy, 0.0, sy * h / 2],
            [-sz, 0.0, 0.0, sz * d / 2],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def _save(path: Path, hu: np.ndarray, seg: np.ndarray, spacing: tuple[float, float, float]) -> None:
    import nibabel as nib

    affine = _affine(spacing)
    stored = np.clip(np.round(hu - HU_OFFSET), -32768, 32767).astype(np.int16)
    img = nib.Nifti1Image(stored, affine)
    img.header.set_slope_inter(1.0, HU_OFFSET)
    img.header.set_xyzt_units("mm")
    nib.save(img, str(path / IMAGING))
    mask = nib.Nifti1Image(seg, affine)
    mask.header.set_xyzt_units("mm")
    nib.save(mask, str(path / SEGMENTATION))


def write_kits23(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> None:
    """Write ``n_records`` cases and ``dataset/kits23.json`` under ``root``."""
    root = Path(root)
    data = root / DATA_DIR
    data.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n_records):
        malignant = bool(rng.random() < MALIGNANT_FRACTION)
        subtype = _pick(rng, MALIGNANT_SUBTYPES if malignant else BENIGN_SUBTYPES)
        hu, seg, facts = _draw_case(np.random.default_rng(rng.integers(2**63)), subtype)
        case_id = f"case_{i:05d}"
        os.makedirs(data / case_id, exist_ok=True)
        _save(data / case_id, hu, seg, facts["spacing"])  # type: ignore[arg-type]
        size_cm = round(2 * facts["radius_mm"] / 10, 1)
        cases.append(
            {
                "case_id": case_id,
                "gender": "male" if rng.random() < 0.62 else "female",
                "age_at_nephrectomy": int(rng.integers(25, 86)),
                "bmi": round(float(rng.uniform(19, 42)), 2),
                "radiographic_size": size_cm,
                "pathologic_size": round(max(0.5, size_cm + float(rng.normal(0, 0.3))), 1),
                "malignant": malignant,
                "tumor_histologic_subtype": subtype,
                "pathology_t_stage": ("1a" if size_cm <= 4 else "1b") if malignant else "0",
                "tumor_isup_grade": str(int(rng.integers(1, 4))) if malignant else "na",
            }
        )
    if shuffle_labels:
        order = rng.permutation(n_records)
        moved = [(cases[j]["malignant"], cases[j]["tumor_histologic_subtype"]) for j in order]
        for case, (malignant, subtype) in zip(cases, moved, strict=True):
            case["malignant"], case["tumor_histologic_subtype"] = malignant, subtype
    (data / METADATA).write_text(json.dumps(cases, indent=4) + "\n", encoding="utf-8")
    logger.info("kits23 sample: %d cases in %s", n_records, root)
