"""Small deterministic copies of HAM10000, ISIC 2020, APTOS 2019 and BUSI in their real layouts.

Every image is drawn from its record's true class, with overlapping class-dependent structure so that a small
CNN learns the task without solving it trivially:

- dermoscopy (HAM10000, ISIC 2020): skin with lighting, hairs and a dermoscope vignette; a lesion whose size,
  border irregularity, colours and inner structure follow the diagnosis (melanoma: large, irregular,
  multicoloured with a blue-grey veil; nevus: small, round, brown with a pigment network; BCC: pink with
  arborizing vessels and blue-grey nests; AKIEC: red with white scale; bkl / df / vasc: tan, scar-centred,
  red lacunae);
- fundus (APTOS): a synthetic retina (disc, macula, vessel arcades) with microaneurysms, haemorrhages, hard
  exudates, cotton-wool spots and new vessels whose number grows with the DR grade;
- breast ultrasound (BUSI): speckled tissue layers with a hypoechoic mass (benign: oval, wider than tall,
  smooth, posterior enhancement; malignant: irregular, spiculated, taller, posterior shadow; normal: none),
  plus its segmentation mask(s).

``shuffle_labels`` permutes the labels across records (the images keep their true class): a negative control.
Same arguments -> byte-identical files.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

from climbflow.catalog.aptos import IMAGE_DIR as APTOS_IMAGES
from climbflow.catalog.aptos import TRAIN_CSV as APTOS_CSV
from climbflow.catalog.busi import DATA_DIR as BUSI_DIR
from climbflow.catalog.ham10000 import COLUMNS as HAM_COLUMNS
from climbflow.catalog.ham10000 import IMAGE_DIRS as HAM_DIRS
from climbflow.catalog.ham10000 import METADATA as HAM_METADATA
from climbflow.catalog.isic2020 import COLUMNS as ISIC_COLUMNS
from climbflow.catalog.isic2020 import GROUND_TRUTH as ISIC_CSV

logger = logging.getLogger(__name__)

JPEG_QUALITY = 92
RGB = tuple[float, float, float]


# ------------------------------------------------------------------------------------------------ helpers
def _noise(rng: np.random.Generator, h: int, w: int, cell: int) -> np.ndarray:
    """Smooth zero-mean unit-ish noise (h, w) with feature size ~``cell`` px."""
    small = rng.standard_normal((h // cell + 3, w // cell + 3), dtype=np.float32)
    big = Image.fromarray(small).resize((w + 3 * cell, h + 3 * cell), Image.Resampling.BILINEAR)
    return np.asarray(big, dtype=np.float32)[cell : cell + h, cell : cell + w]


def _layer(h: int, w: int, paint, blur: float = 0.0) -> np.ndarray:
    """Float (h, w) in 0..1 of what ``paint(ImageDraw)`` draws with fill 255."""
    img = Image.new("L", (w, h), 0)
    paint(ImageDraw.Draw(img))
    if blur > 0:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(img, dtype=np.float32) / 255.0


def _blob(cx: float, cy: float, radii: np.ndarray, theta0: float = 0.0) -> list[tuple[float, float]]:
    n = len(radii)
    return [
        (cx + r * math.cos(theta0 + 2 * math.pi * i / n), cy + r * math.sin(theta0 + 2 * math.pi * i / n))
        for i, r in enumerate(radii)
    ]


def _outline(rng: np.random.Generator, radius: float, irregularity: float, n: int = 72) -> np.ndarray:
    """Radii of a closed outline: a circle deformed by low harmonics (``irregularity`` ~ relative amplitude)."""
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 8):
        r += irregularity * rng.uniform(0.3, 1.0) / math.sqrt(k - 1) * np.cos(k * theta + rng.uniform(0, 6.3))
    return radius * np.clip(r, 0.45, 1.8)


def _paint(img: np.ndarray, alpha: np.ndarray, color: RGB) -> None:
    """In place: img = img * (1 - alpha) + color * alpha (img float (h, w, 3) in 0..255)."""
    a = np.clip(alpha, 0, 1)[:, :, None]
    img *= 1 - a
    img += a * np.asarray(color, dtype=np.float32)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0, 255).round().astype(np.uint8)


def _jitter(rng: np.random.Generator, color: RGB, amount: float = 12.0) -> RGB:
    """Brightness varies by ~``amount`` grey levels, hue only slightly."""
    gain = 1 + rng.normal(0, amount / 150)
    r, g, b = (float(c * gain + rng.normal(0, amount / 4)) for c in color)
    return (r, g, b)


def _write_csv(path: Path, header: tuple[str, ...] | list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _unique_ints(rng: np.random.Generator, lo: int, hi: int, n: int) -> np.ndarray:
    """``n`` distinct integers in [lo, hi), in draw order."""
    out: dict[int, None] = {}
    while len(out) < n:
        for v in rng.integers(lo, hi, size=n):
            if len(out) < n:
                out.setdefault(int(v))
    return np.fromiter(out, dtype=np.int64, count=n)


def _check_n(n_records: int, minimum: int = 2) -> None:
    if n_records < minimum:
        raise ValueError(f"n_records must be >= {minimum}, got {n_records}")


# --------------------------------------------------------------------------------------------- dermoscopy
@dataclass(frozen=True)
class _LesionKind:
    radius: tuple[float, float]  # fraction of min(h, w)
    irregularity: tuple[float, float]
    colors: tuple[RGB, ...]  # base colour first
    edge_blur: tuple[float, float]


LESIONS: dict[str, _LesionKind] = {
    "mel": _LesionKind(
        (0.24, 0.38), (0.1, 0.22), ((85, 50, 35), (35, 25, 25), (95, 105, 130), (205, 170, 165)), (0.5, 2.0)
    ),
    "nv": _LesionKind((0.14, 0.28), (0.02, 0.08), ((135, 85, 55), (105, 65, 45)), (1.0, 2.5)),
    "bcc": _LesionKind(
        (0.18, 0.3), (0.05, 0.13), ((215, 150, 150), (90, 100, 125), (175, 35, 45)), (1.5, 3.0)
    ),
    "akiec": _LesionKind((0.18, 0.3), (0.07, 0.15), ((205, 105, 95), (240, 228, 215)), (1.0, 2.5)),
    "bkl": _LesionKind((0.18, 0.3), (0.04, 0.1), ((175, 125, 85), (240, 230, 215), (70, 50, 40)), (0.5, 1.2)),
    "df": _LesionKind((0.12, 0.2), (0.03, 0.08), ((150, 100, 70), (235, 220, 210)), (1.5, 3.0)),
    "vasc": _LesionKind((0.12, 0.24), (0.03, 0.08), ((165, 40, 70), (95, 20, 45)), (0.8, 1.8)),
}


@dataclass
class _Spot:
    """Where one dermoscopy image's lesion lies, for the kind-specific patterns (drawn from ``view``)."""

    view: np.random.Generator
    h: int
    w: int
    cx: float
    cy: float
    r: float  # mean radius in pixels
    theta0: float  # outline rotation
    hard: np.ndarray  # lesion mask, sharp
    colors: list[RGB]  # base colour first


def _dermoscopy(lesion_seed: list[int], view: np.random.Generator, kind: str, h: int, w: int) -> np.ndarray:
    """One dermoscopy image (h, w, 3) uint8: lesion geometry from ``lesion_seed`` (the same for every image of a
    lesion), lighting, position, hairs and textures from ``view``."""
    spec = LESIONS[kind]
    shape = np.random.default_rng(lesion_seed)
    size = min(h, w)
    radius = shape.uniform(*spec.radius) * size
    radii = _outline(shape, radius, shape.uniform(*spec.irregularity))
    colors = [_jitter(shape, c) for c in spec.colors]
    edge = shape.uniform(*spec.edge_blur)

    img = _skin(view, h, w)
    scale = view.uniform(0.9, 1.1)
    cx, cy = w / 2 + view.normal(0, 0.06 * size), h / 2 + view.normal(0, 0.06 * size)
    theta0 = view.uniform(0, 2 * np.pi)
    pts = _blob(cx, cy, radii * scale, theta0)
    lesion = _layer(h, w, lambda d: d.polygon(pts, fill=255), edge)
    hard = _layer(h, w, lambda d: d.polygon(pts, fill=255))
    spot = _Spot(view, h, w, cx, cy, float(radii.mean() * scale), theta0, hard, colors)

    base = np.empty((h, w, 3), np.float32)
    base[:] = colors[0]
    base *= (1 + 0.1 * _noise(view, h, w, 5))[:, :, None]
    _PATTERNS[kind](spot, base)
    opacity = 0.75 if kind == "bcc" else 0.95
    _paint(img, opacity * lesion, (0, 0, 0))
    img += opacity * lesion[:, :, None] * base
    if view.random() < 0.35:
        _paint(img, 0.8 * _layer(h, w, lambda d: _hairs(d, view, h, w)), (45, 30, 25))
    _light(view, img)
    img += view.normal(0, 3.0, size=img.shape).astype(np.float32)
    return _to_uint8(img)


def _skin(view: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Textured skin of a random tone, float (h, w, 3)."""
    skin_tone = view.uniform(0, 1)
    skin = np.asarray((235 - 45 * skin_tone, 195 - 55 * skin_tone, 175 - 65 * skin_tone), np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[:] = skin
    img *= (1 + 0.05 * _noise(view, h, w, 8))[:, :, None]
    return img


def _hairs(d: ImageDraw.ImageDraw, view: np.random.Generator, h: int, w: int) -> None:
    """One to four gently bent hairs across the image."""
    size = min(h, w)
    for _ in range(int(view.integers(1, 5))):
        x0, y0 = view.uniform(0, w), view.uniform(0, h)
        a = view.uniform(0, np.pi)
        length = view.uniform(0.4, 1.0) * size
        bend = view.normal(0, 0.15 * size)
        pts = []
        for t in np.linspace(-0.5, 0.5, 10):
            pts.append(
                (
                    x0 + t * length * math.cos(a) - bend * (t * t) * math.sin(a),
                    y0 + t * length * math.sin(a) + bend * (t * t) * math.cos(a),
                )
            )
        d.line(pts, fill=255, width=1)


def _light(view: np.random.Generator, img: np.ndarray) -> None:
    """In place: uneven illumination, exposure and (sometimes) the dermoscope's dark corners."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1 + view.uniform(-0.08, 0.08) * (xx - w / 2) / w + view.uniform(-0.08, 0.08) * (yy - h / 2) / h
    img *= light[:, :, None] * view.uniform(0.9, 1.08)
    if view.random() < 0.4:  # dermoscope field of view: dark corners
        rr = np.hypot(xx - w / 2, yy - h / 2) / (0.5 * math.hypot(h, w))
        img *= np.clip((view.uniform(0.92, 1.02) - rr) * 8, 0, 1)[:, :, None]


# Lesion patterns: each paints its kind's structures into ``base`` (the lesion colour), in place.
def _mel(s: _Spot, base: np.ndarray) -> None:
    """Asymmetric multicolour: black clods, blue-grey veil, pale regression."""
    for color, thr in zip(s.colors[1:], (0.6, 0.9, 1.3), strict=True):
        patch = np.clip((_noise(s.view, s.h, s.w, max(3, int(s.r / 3))) - thr) * 3, 0, 1) * s.hard
        _paint(base, patch, color)
    grad = np.clip(((np.arange(s.w)[None, :] - s.cx) * math.cos(s.theta0)) / (2 * s.r) + 0.5, 0, 1)
    _paint(base, 0.35 * grad * s.hard, s.colors[1])


def _nv(s: _Spot, base: np.ndarray) -> None:
    """Pigment network: a darker reticular grid."""
    yy, xx = np.mgrid[0 : s.h, 0 : s.w].astype(np.float32)
    period = s.view.uniform(4.0, 6.0)
    net = (np.sin(xx * 2 * np.pi / period) * np.sin(yy * 2 * np.pi / period) > 0.5).astype(np.float32)
    _paint(base, 0.45 * net * s.hard, s.colors[1])


def _ellipses(
    s: _Spot, n: int, spread: float, r_lo: float, r_hi: float, aspect: float = 1.0
) -> Callable[[ImageDraw.ImageDraw], object]:
    """A painter of ``n`` ellipses scattered around the centre (radii relative to the lesion's)."""
    view, cx, cy, r = s.view, s.cx, s.cy, s.r
    return lambda d: [
        d.ellipse((x - rr, y - aspect * rr, x + rr, y + aspect * rr), fill=255)
        for x, y, rr in (
            (cx + view.normal(0, spread * r), cy + view.normal(0, spread * r), view.uniform(r_lo, r_hi) * r)
            for _ in range(n)
        )
    ]


def _bcc(s: _Spot, base: np.ndarray) -> None:
    """Blue-grey ovoid nests and arborizing vessels."""
    view = s.view
    nests = _layer(s.h, s.w, _ellipses(s, int(view.integers(2, 6)), 0.45, 0.1, 0.18, aspect=0.7), 0.8)
    _paint(base, nests * s.hard, s.colors[1])

    def vessels(d: ImageDraw.ImageDraw) -> None:
        cx, cy, r = s.cx, s.cy, s.r
        for _ in range(int(view.integers(2, 4))):
            x, y, a = cx + view.normal(0, 0.3 * r), cy + view.normal(0, 0.3 * r), view.uniform(0, 6.3)
            for _ in range(6):
                nx, ny = x + 0.2 * r * math.cos(a), y + 0.2 * r * math.sin(a)
                d.line([(x, y), (nx, ny)], fill=255, width=1)
                b = a + view.choice([-1, 1]) * view.uniform(0.5, 1.0)
                d.line([(nx, ny), (nx + 0.12 * r * math.cos(b), ny + 0.12 * r * math.sin(b))], fill=255)
                x, y, a = nx, ny, a + view.normal(0, 0.4)

    _paint(base, _layer(s.h, s.w, vessels) * s.hard, s.colors[2])


def _akiec(s: _Spot, base: np.ndarray) -> None:
    """White keratin scale."""
    scale_patch = np.clip((_noise(s.view, s.h, s.w, 2) - 0.7) * 2.5, 0, 1) * s.hard
    _paint(base, scale_patch, s.colors[1])


def _bkl(s: _Spot, base: np.ndarray) -> None:
    """Milia-like cysts and comedo-like openings."""
    view, cx, cy, r = s.view, s.cx, s.cy, s.r
    for color in s.colors[1:]:
        dots = _layer(
            s.h,
            s.w,
            lambda d: [
                d.ellipse((x - 1.2, y - 1.2, x + 1.2, y + 1.2), fill=255)
                for x, y in ((cx + view.normal(0, 0.5 * r), cy + view.normal(0, 0.5 * r)) for _ in range(8))
            ],
        )
        _paint(base, dots * s.hard, color)


def _df(s: _Spot, base: np.ndarray) -> None:
    """Central white scar-like patch."""
    cx, cy, r = s.cx, s.cy, s.r
    scar = _layer(
        s.h,
        s.w,
        lambda d: d.ellipse((cx - 0.45 * r, cy - 0.4 * r, cx + 0.45 * r, cy + 0.4 * r), fill=255),
        1.5,
    )
    _paint(base, scar, s.colors[1])


def _vasc(s: _Spot, base: np.ndarray) -> None:
    """Dark red lacunae."""
    lac = _layer(s.h, s.w, _ellipses(s, int(s.view.integers(4, 9)), 0.4, 0.1, 0.2), 0.6)
    _paint(base, lac * s.hard, s.colors[1])


_PATTERNS = {"mel": _mel, "nv": _nv, "bcc": _bcc, "akiec": _akiec, "bkl": _bkl, "df": _df, "vasc": _vasc}


def _save_jpg(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=JPEG_QUALITY)


def _derm_size(rng: np.random.Generator) -> tuple[int, int]:
    """(h, w): mostly 4:3 landscape like the real cameras, some square or portrait."""
    u = rng.random()
    return (120, 160) if u < 0.7 else ((128, 128) if u < 0.9 else (160, 120))


# --------------------------------------------------------------------------------------------- HAM10000
HAM_DX: tuple[str, ...] = ("nv", "mel", "bcc", "akiec", "bkl", "df", "vasc")
HAM_PREVALENCE: tuple[float, ...] = (0.34, 0.2, 0.14, 0.12, 0.1, 0.05, 0.05)  # flatter than the real 67% nv
HAM_DX_TYPE = {
    "nv": "follow_up",
    "mel": "histo",
    "bcc": "histo",
    "akiec": "histo",
    "bkl": "consensus",
    "df": "consensus",
    "vasc": "consensus",
}
SITES = (
    "back",
    "lower extremity",
    "trunk",
    "upper extremity",
    "abdomen",
    "face",
    "chest",
    "scalp",
    "unknown",
)
FIRST_HAM_IMAGE = 24306  # ISIC_0024306 is the first image of HAM10000_images_part_1


def write_ham10000(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """``HAM10000_metadata.csv`` + ``HAM10000_images_part_{1,2}/ISIC_00NNNNN.jpg`` (first half in part 1).

    About a quarter of the lesions have two or three images (same lesion, other framing and lighting)."""
    _check_n(n_records)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / HAM_METADATA).unlink(missing_ok=True)
    rng = np.random.default_rng([seed, 10])
    lesion_numbers = _unique_ints(rng, 0, 10000, n_records)
    rows: list[list[str]] = []
    labels: list[tuple[str, str]] = []
    image_no = 0
    lesion_no = 0
    while image_no < n_records:
        dx = HAM_DX[int(rng.choice(len(HAM_DX), p=HAM_PREVALENCE))]
        lesion_id = f"HAM_{int(lesion_numbers[lesion_no]):07d}"
        age = "" if rng.random() < 0.03 else f"{5 * int(rng.integers(4, 18))}.0"
        sex = str(rng.choice(["male", "female", "unknown"], p=[0.53, 0.45, 0.02]))
        site = str(rng.choice(SITES))
        n_images = int(rng.choice([1, 2, 3], p=[0.75, 0.2, 0.05]))
        for _ in range(min(n_images, n_records - image_no)):
            image_id = f"ISIC_{FIRST_HAM_IMAGE + image_no:07d}"
            folder = HAM_DIRS[0] if image_no < (n_records + 1) // 2 else HAM_DIRS[1]
            view = np.random.default_rng([seed, 11, image_no])
            h, w = _derm_size(view)
            _save_jpg(root / folder / f"{image_id}.jpg", _dermoscopy([seed, 12, lesion_no], view, dx, h, w))
            rows.append([lesion_id, image_id, "", "", age, sex, site])
            labels.append((dx, HAM_DX_TYPE[dx]))
            image_no += 1
        lesion_no += 1
    if shuffle_labels:
        perm = np.random.default_rng([seed, 13]).permutation(len(labels))
        labels = [labels[i] for i in perm]
    for row, (dx, dx_type) in zip(rows, labels, strict=True):
        row[2], row[3] = dx, dx_type
    _write_csv(root / HAM_METADATA, HAM_COLUMNS, rows)
    logger.info("wrote %d HAM10000 images (%d lesions) to %s", n_records, lesion_no, root)
    return root


# --------------------------------------------------------------------------------------------- ISIC 2020
ISIC_MALIGNANT_FRACTION = 0.3  # the real set has 1.8%; the sample keeps both classes in small splits
ISIC_ATYPICAL = 0.12  # fraction of images drawn like the other class (caps the attainable AUC)
ISIC_SITES = ("torso", "lower extremity", "upper extremity", "head/neck", "palms/soles", "oral/genital", "")
ISIC_BENIGN = (
    "unknown",
    "nevus",
    "seborrheic keratosis",
    "lentigo NOS",
    "lichenoid keratosis",
    "solar lentigo",
)
ISIC_BENIGN_P = (0.7, 0.2, 0.04, 0.03, 0.02, 0.01)
_ISIC_KIND = {
    "unknown": "nv",
    "nevus": "nv",
    "seborrheic keratosis": "bkl",
    "lentigo NOS": "nv",
    "lichenoid keratosis": "bkl",
    "solar lentigo": "nv",
}


def write_isic2020(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """``ISIC_2020_Training_GroundTruth.csv`` + ``train/ISIC_NNNNNNN.jpg``; one to four images per patient."""
    _check_n(n_records)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / ISIC_CSV).unlink(missing_ok=True)
    rng = np.random.default_rng([seed, 20])
    image_numbers = np.sort(_unique_ints(rng, 15000, 10_000_000, n_records))
    patient_numbers = _unique_ints(rng, 1_000_000, 10_000_000, n_records)
    order = rng.permutation(n_records)  # real image names are not grouped by patient
    rows: list[list[str]] = []
    labels: list[tuple[str, str, str]] = []
    i = 0
    p = 0
    while i < n_records:
        patient = f"IP_{int(patient_numbers[p]):07d}"
        sex = "" if rng.random() < 0.02 else str(rng.choice(["male", "female"]))
        age = "" if rng.random() < 0.02 else f"{5 * int(rng.integers(4, 18))}.0"
        for _ in range(min(int(rng.integers(1, 5)), n_records - i)):
            malignant = rng.random() < ISIC_MALIGNANT_FRACTION
            diagnosis = "melanoma" if malignant else str(rng.choice(ISIC_BENIGN, p=ISIC_BENIGN_P))
            name = f"ISIC_{int(image_numbers[order[i]]):07d}"
            view = np.random.default_rng([seed, 21, i])
            h, w = _derm_size(view)
            kind = "mel" if malignant else _ISIC_KIND[diagnosis]
            if rng.random() < ISIC_ATYPICAL:  # early melanomas look benign, dysplastic nevi look malignant
                kind = "nv" if malignant else "mel"
            _save_jpg(root / "train" / f"{name}.jpg", _dermoscopy([seed, 22, i], view, kind, h, w))
            rows.append([name, patient, sex, age, str(rng.choice(ISIC_SITES)), "", "", ""])
            labels.append((diagnosis, "malignant" if malignant else "benign", "1" if malignant else "0"))
            i += 1
        p += 1
    if shuffle_labels:
        perm = np.random.default_rng([seed, 23]).permutation(len(labels))
        labels = [labels[k] for k in perm]
    for row, (diagnosis, bm, target) in zip(rows, labels, strict=True):
        row[5], row[6], row[7] = diagnosis, bm, target
    rows.sort(key=lambda r: r[0])
    _write_csv(root / ISIC_CSV, ISIC_COLUMNS, rows)
    logger.info("wrote %d ISIC 2020 images (%d patients) to %s", n_records, p, root)
    return root


# ------------------------------------------------------------------------------------------------ fundus
APTOS_PREVALENCE: tuple[float, ...] = (0.3, 0.15, 0.25, 0.15, 0.15)  # real: 49/10/27/5/8 %
# expected counts per grade: microaneurysms, haemorrhages, hard exudates, cotton-wool spots, new-vessel tufts
DR_LESIONS: dict[int, tuple[float, float, float, float, float]] = {
    0: (0.3, 0.0, 0.0, 0.0, 0.0),
    1: (5.0, 0.5, 0.3, 0.0, 0.0),
    2: (9.0, 4.0, 5.0, 0.5, 0.0),
    3: (12.0, 12.0, 8.0, 3.0, 0.2),
    4: (10.0, 9.0, 6.0, 2.0, 2.5),
}


@dataclass
class _Eye:
    """One fundus photograph's geometry, for the vessel and lesion painters (drawn from ``rng``)."""

    rng: np.random.Generator
    cx: float  # centre of the fundus field
    cy: float
    R: float  # field radius
    side: float  # -1 / +1: left / right eye (the optic disc lies nasal)
    dx: float  # optic disc centre
    dy: float
    r_disc: float

    def spot(self) -> tuple[float, float]:
        """A random point inside the field, away from the disc."""
        while True:
            a, r = self.rng.uniform(0, 2 * np.pi), 0.85 * self.R * math.sqrt(self.rng.uniform(0, 1))
            x, y = self.cx + r * math.cos(a), self.cy + r * math.sin(a)
            if math.hypot(x - self.dx, y - self.dy) > 1.8 * self.r_disc:
                return x, y


def _fundus(rng: np.random.Generator, grade: int, h: int, w: int) -> np.ndarray:
    """A synthetic fundus photograph (h, w, 3) uint8 with DR lesions of ``grade``."""
    eye, img, field = _retina(rng, h, w)
    _paint(img, 0.75 * _layer(h, w, lambda d: _arcades(d, eye), 0.5), (115, 25, 20))
    _dr_lesions(eye, img, grade)
    img *= rng.uniform(0.8, 1.1)
    img += rng.normal(0, 2.5, size=img.shape).astype(np.float32)
    img *= field[:, :, None]
    return _to_uint8(img)


def _retina(rng: np.random.Generator, h: int, w: int) -> tuple[_Eye, np.ndarray, np.ndarray]:
    """The eye's geometry, the background (orange retina, darker macula, pale optic disc) and the circular
    field of view (soft edge)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w / 2 + rng.normal(0, 2), h / 2 + rng.normal(0, 2)
    R = min(h, w) * rng.uniform(0.44, 0.5) if w > h else min(h, w) * rng.uniform(0.47, 0.53)
    rr = np.hypot(xx - cx, yy - cy) / R
    field = np.clip((1.0 - rr) * R / 1.5, 0, 1)
    base = np.asarray(_jitter(rng, (205, 95, 45), 15), np.float32)
    img = base[None, None, :] * (1.0 - 0.35 * rr**2)[:, :, None]
    img *= (1 + 0.06 * _noise(rng, h, w, 6))[:, :, None]
    side = float(rng.choice([-1, 1]))
    dx, dy = cx + side * 0.42 * R, cy + rng.normal(0, 0.04 * R)
    mx, my = cx - side * 0.1 * R, cy + rng.normal(0, 0.03 * R)
    macula = np.exp(-((xx - mx) ** 2 + (yy - my) ** 2) / (2 * (0.12 * R) ** 2))
    img *= (1 - 0.35 * macula)[:, :, None]
    r_disc = rng.uniform(0.08, 0.11) * R
    disc = _layer(
        h,
        w,
        lambda d: d.ellipse((dx - r_disc, dy - 1.1 * r_disc, dx + r_disc, dy + 1.1 * r_disc), fill=255),
        1.2,
    )
    _paint(img, 0.9 * disc, _jitter(rng, (245, 205, 130), 8))
    return _Eye(rng, cx, cy, R, side, dx, dy, r_disc), img, field


def _arcades(d: ImageDraw.ImageDraw, eye: _Eye) -> None:
    """The upper and lower vascular arcades leaving the disc, with branches."""
    rng, R, side = eye.rng, eye.R, eye.side
    for vy in (-1, 1):
        for spread, width in ((0.55, 3), (0.3, 2)):
            pts = []
            for t in np.linspace(0, 1, 14):
                x = eye.dx - side * t * 1.15 * R
                y = (
                    eye.dy
                    + vy * spread * R * math.sin(min(t * 1.6, 1.0) * math.pi / 2) * (1 - 0.3 * t)
                    + rng.normal(0, 0.6)
                )
                pts.append((x, y))
            d.line(pts, fill=255, width=width)
            for k in (4, 7, 10):  # branches
                x, y = pts[k]
                a = math.atan2(vy, -side) + rng.normal(0, 0.5)
                d.line([(x, y), (x + 0.3 * R * math.cos(a), y + 0.3 * R * math.sin(a))], fill=255, width=1)


def _dr_lesions(eye: _Eye, img: np.ndarray, grade: int) -> None:
    """In place: Poisson counts (by grade) of microaneurysms, haemorrhages, exudates, cotton-wool spots and
    new vessels; at grade 4 sometimes a preretinal haemorrhage."""
    rng, (h, w) = eye.rng, img.shape[:2]
    counts = [int(rng.poisson(r)) for r in DR_LESIONS[grade]]
    _paint(img, _layer(h, w, _dots(eye, counts[0], 0.9, 1.4)), (110, 15, 10))  # microaneurysms
    _paint(img, 0.9 * _layer(h, w, _dots(eye, counts[1], 1.8, 3.6), 0.6), (120, 20, 15))  # blot haemorrhages
    _paint(img, 0.9 * _layer(h, w, lambda d: _exudates(d, eye, counts[2])), (240, 215, 90))
    _paint(
        img, 0.75 * _layer(h, w, _dots(eye, counts[3], 2.5, 4.5), 1.5), (235, 220, 195)
    )  # cotton-wool spots
    _paint(img, 0.85 * _layer(h, w, lambda d: _new_vessels(d, eye, counts[4])), (150, 20, 30))
    if grade == 4 and rng.random() < 0.5:  # preretinal (boat-shaped) haemorrhage
        x, y = eye.spot()
        _paint(
            img,
            0.9 * _layer(h, w, lambda d: d.chord((x - 7, y - 6, x + 7, y + 6), 0, 180, fill=255), 0.8),
            (105, 10, 10),
        )


def _dots(eye: _Eye, n: int, r_lo: float, r_hi: float) -> Callable[[ImageDraw.ImageDraw], None]:
    """A painter of ``n`` round dots with radii in [r_lo, r_hi) px."""

    def paint(d: ImageDraw.ImageDraw) -> None:
        for _ in range(n):
            x, y = eye.spot()
            r = eye.rng.uniform(r_lo, r_hi)
            d.ellipse((x - r, y - r, x + r, y + r), fill=255)

    return paint


def _exudates(d: ImageDraw.ImageDraw, eye: _Eye, n: int) -> None:
    """``n`` clusters of small yellow deposits."""
    rng = eye.rng
    for _ in range(n):
        x0, y0 = eye.spot()
        for _ in range(int(rng.integers(2, 5))):
            x, y, r = x0 + rng.normal(0, 2.5), y0 + rng.normal(0, 2.5), rng.uniform(0.8, 1.6)
            d.ellipse((x - r, y - r, x + r, y + r), fill=255)


def _new_vessels(d: ImageDraw.ImageDraw, eye: _Eye, n: int) -> None:
    """``n`` tortuous tufts near the disc or on an arcade."""
    rng = eye.rng
    for _ in range(n):
        x, y = (
            (eye.dx + rng.normal(0, 1.5 * eye.r_disc), eye.dy + rng.normal(0, 1.5 * eye.r_disc))
            if rng.random() < 0.6
            else eye.spot()
        )
        pts = [(x, y)]
        for _ in range(14):
            x, y = x + rng.normal(0, 2.2), y + rng.normal(0, 2.2)
            pts.append((x, y))
        d.line(pts, fill=255, width=1)


def write_aptos(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """``train.csv`` (id_code, diagnosis) + ``train_images/<id_code>.png`` fundus photographs."""
    _check_n(n_records)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / APTOS_CSV).unlink(missing_ok=True)
    rng = np.random.default_rng([seed, 30])
    codes = [f"{int(v):012x}" for v in _unique_ints(rng, 0, 16**12, n_records)]
    grades = [int(g) for g in rng.choice(5, size=n_records, p=APTOS_PREVALENCE)]
    for i, (code, grade) in enumerate(zip(codes, grades, strict=True)):
        img_rng = np.random.default_rng([seed, 31, i])
        h, w = (128, 128) if img_rng.random() < 0.6 else (120, 160)
        out = root / APTOS_IMAGES / f"{code}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_fundus(img_rng, grade, h, w)).save(out, format="PNG", compress_level=6)
    if shuffle_labels:
        grades = [grades[i] for i in np.random.default_rng([seed, 32]).permutation(n_records)]
    _write_csv(
        root / APTOS_CSV, ("id_code", "diagnosis"), [[c, str(g)] for c, g in zip(codes, grades, strict=True)]
    )
    logger.info("wrote %d APTOS fundus images to %s", n_records, root)
    return root


# ---------------------------------------------------------------------------------------------- ultrasound
BUSI_CLASSES: tuple[str, ...] = ("benign", "malignant", "normal")
BUSI_PREVALENCE: tuple[float, ...] = (0.45, 0.3, 0.25)  # real: 437 / 210 / 133 images


def _ultrasound(rng: np.random.Generator, cls: str, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A B-mode breast ultrasound image (h, w) uint8 and its lesion mask (0/255)."""
    yy = np.mgrid[0:h, 0:w].astype(np.float32)[0]
    echo = _breast_layers(rng, yy)
    mask = np.zeros((h, w), np.float32)
    if cls != "normal":
        echo, mask = _us_lesion(rng, cls, echo, yy)
    gain = np.exp(-(yy / h) * rng.uniform(0.2, 0.6))  # attenuation, partly compensated
    speckle = rng.rayleigh(0.8, size=(h, w)).astype(np.float32)
    speckle = ndimage.gaussian_filter(speckle, 0.6)
    img = 255 * np.clip(echo * gain * speckle * rng.uniform(0.8, 1.05), 0, 1)
    return _to_uint8(img), (mask > 0.5).astype(np.uint8) * 255


def _breast_layers(rng: np.random.Generator, yy: np.ndarray) -> np.ndarray:
    """Echogenicity (h, w) of skin, subcutaneous fat (with hypoechoic lobules), gland and pectoral muscle;
    ``yy``: each pixel's row."""
    h, w = yy.shape
    depth = yy / h
    fat_end = rng.uniform(0.22, 0.35) + 0.04 * _noise(rng, 1, w, 16)[0]
    gland_end = rng.uniform(0.65, 0.8) + 0.05 * _noise(rng, 1, w, 16)[0]
    echo = np.where(
        depth < 0.05, 0.85, np.where(depth < fat_end, 0.35, np.where(depth < gland_end, 0.6, 0.3))
    )
    echo = echo + 0.12 * _noise(rng, h, w, 6)  # lobules, ligaments
    muscle = depth >= gland_end
    echo += muscle * 0.12 * np.sin(yy * 2 * np.pi / rng.uniform(5, 8) + 0.3 * _noise(rng, h, w, 10))

    def lobules(d: ImageDraw.ImageDraw) -> None:  # hypoechoic fat lobules in every class (distractors)
        for _ in range(int(rng.integers(2, 6))):
            x, y = rng.uniform(0, w), h * rng.uniform(0.08, float(fat_end.mean()))
            rx, ry = rng.uniform(0.06, 0.14) * w, rng.uniform(0.03, 0.06) * h
            d.ellipse((x - rx, y - ry, x + rx, y + ry), fill=255)

    return echo * (1 - 0.45 * _layer(h, w, lobules, 1.5))


def _us_lesion(
    rng: np.random.Generator, cls: str, echo: np.ndarray, yy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Add a benign (posterior enhancement) or malignant (shadowing, heterogeneous) mass to ``echo``;
    returns the new echo and the mass mask (float, 0..1)."""
    h, w = yy.shape
    mx = w * rng.uniform(0.35, 0.65)
    my = h * rng.uniform(0.42, 0.58)
    size = min(h, w) * rng.uniform(0.1, 0.2)
    if cls == "benign":
        pts, inside, edge = _oval_mass(rng, mx, my, size)
    else:
        pts, inside, edge = _spiculated_mass(rng, mx, my, size)
    mask = _layer(h, w, lambda d: d.polygon(pts, fill=255))
    soft = _layer(h, w, lambda d: d.polygon(pts, fill=255), edge)
    xs = np.nonzero(mask.any(axis=0))[0]
    bottom = float(np.nonzero(mask.any(axis=1))[0].max())
    below = (yy > bottom) * np.exp(-(yy - bottom) / (0.35 * h))
    column = np.zeros(w, np.float32)
    column[xs.min() : xs.max() + 1] = 1
    column = ndimage.gaussian_filter1d(column, 2.0)
    shadow = below * column[None, :]
    if cls == "benign":
        echo = echo * (1 + rng.uniform(0.2, 0.45) * shadow)  # posterior acoustic enhancement
    else:
        echo = echo * (1 - rng.uniform(0.3, 0.55) * shadow)  # posterior acoustic shadowing
        inside = inside + 0.12 * np.clip(_noise(rng, h, w, 3), -1, 1)  # heterogeneous echoes
    return echo * (1 - soft) + inside * soft, mask


def _oval_mass(
    rng: np.random.Generator, mx: float, my: float, size: float
) -> tuple[list[tuple[float, float]], float, float]:
    """Benign: oval, wider than tall, circumscribed; returns (outline, inner echogenicity, edge blur)."""
    rx, ry = size * rng.uniform(1.2, 1.7), size * rng.uniform(0.7, 0.95)
    radii = _outline(rng, 1.0, rng.uniform(0.0, 0.06))
    theta = np.linspace(0, 2 * np.pi, len(radii), endpoint=False)
    tilt = rng.normal(0, 0.2)
    pts = [
        (
            mx + r * (rx * math.cos(t) * math.cos(tilt) - ry * math.sin(t) * math.sin(tilt)),
            my + r * (rx * math.cos(t) * math.sin(tilt) + ry * math.sin(t) * math.cos(tilt)),
        )
        for r, t in zip(radii, theta, strict=True)
    ]
    return pts, rng.uniform(0.12, 0.25), 1.2


def _spiculated_mass(
    rng: np.random.Generator, mx: float, my: float, size: float
) -> tuple[list[tuple[float, float]], float, float]:
    """Malignant: irregular, spiculated, taller than wide; returns (outline, inner echogenicity, edge blur)."""
    radii = _outline(rng, size, rng.uniform(0.18, 0.3), n=96)
    radii *= 1 + (rng.random(len(radii)) < 0.12) * rng.uniform(0.3, 0.7, len(radii))  # spicules
    theta = np.linspace(0, 2 * np.pi, len(radii), endpoint=False)
    ar = rng.uniform(1.0, 1.35)
    pts = [(mx + r * math.cos(t), my + ar * r * math.sin(t)) for r, t in zip(radii, theta, strict=True)]
    return pts, rng.uniform(0.08, 0.2), 0.6


def write_busi(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """``Dataset_BUSI_with_GT/{benign,malignant,normal}/<class> (N).png`` + ``<class> (N)_mask.png`` masks.

    With ``shuffle_labels`` an image (drawn from its true class) is filed under a permuted class folder."""
    _check_n(n_records)
    root = Path(root)
    data = root / BUSI_DIR
    rng = np.random.default_rng([seed, 40])
    truth = [BUSI_CLASSES[int(i)] for i in rng.choice(3, size=n_records, p=BUSI_PREVALENCE)]
    folders = list(truth)
    if shuffle_labels:
        folders = [truth[i] for i in np.random.default_rng([seed, 41]).permutation(n_records)]
    counters = dict.fromkeys(BUSI_CLASSES, 0)
    for folder in BUSI_CLASSES:
        (data / folder).mkdir(parents=True, exist_ok=True)
        for old in (data / folder).glob("*.png"):
            old.unlink()
    for i, (cls, folder) in enumerate(zip(truth, folders, strict=True)):
        img_rng = np.random.default_rng([seed, 42, i])
        h, w = int(img_rng.integers(96, 129)), int(img_rng.integers(112, 161))
        pixels, mask = _ultrasound(img_rng, cls, h, w)
        counters[folder] += 1
        stem = f"{folder} ({counters[folder]})"
        image = Image.fromarray(pixels)
        if img_rng.random() < 0.85:  # most BUSI PNGs are grayscale stored as RGB
            image = image.convert("RGB")
        image.save(data / folder / f"{stem}.png", format="PNG", compress_level=6)
        Image.fromarray(mask).save(data / folder / f"{stem}_mask.png", format="PNG", compress_level=6)
        if cls != "normal" and img_rng.random() < 0.1:  # a second annotated region
            Image.fromarray(np.zeros_like(mask)).save(data / folder / f"{stem}_mask_1.png", format="PNG")
    logger.info("wrote %d BUSI images to %s", n_records, data)
    return root
