"""A small, deterministic CheXpert copy in the real layout, with synthetic but *label-dependent* radiographs.

``write_chexpert(root, n)`` writes ``root/CheXpert-v1.0-small/{train,valid}.csv`` and the JPGs their
``Path`` column names. Every image is drawn from its study's true findings: a bright body and mediastinum,
two dark lung fields with ribs and vessel markings, a heart whose width follows Cardiomegaly, and one
painter per observation (effusion meniscus, opacities, pneumothorax with pleural line, tubes, ...).
Position, size, rotation, exposure and noise vary per image so the task is learnable but not trivial.
The csv labels mimic the real files: train rows carry blanks and some -1 (uncertain), valid rows only 1/0.
"""

from __future__ import annotations

import csv
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from climbflow.catalog.chexpert import LABELS, META_COLUMNS

logger = logging.getLogger(__name__)

DATA_DIR = "CheXpert-v1.0-small"
JPEG_QUALITY = 90
SHARP = 1.0  # blur radius applied to the whole density image; layers needing no more are drawn sharp
VALID_FRACTION = 0.15
TWO_STUDY_FRACTION = 0.25
LATERAL_FRACTION = 0.08
FIRST_VALID_PATIENT = 64541  # the real valid.csv starts at patient64541
# Prevalence of each finding (No Finding is derived: none of the others).
PREVALENCE: dict[str, float] = {
    "Enlarged Cardiomediastinum": 0.10,
    "Cardiomegaly": 0.18,
    "Lung Opacity": 0.28,
    "Lung Lesion": 0.08,
    "Edema": 0.16,
    "Consolidation": 0.10,
    "Pneumonia": 0.08,
    "Atelectasis": 0.14,
    "Pneumothorax": 0.10,
    "Pleural Effusion": 0.24,
    "Pleural Other": 0.06,
    "Fracture": 0.07,
    "Support Devices": 0.28,
}

Points = list[tuple[float, float]]


def study_findings(rng: np.random.Generator) -> frozenset[str]:
    found = {name for name, p in PREVALENCE.items() if rng.random() < p}
    if "Cardiomegaly" in found and rng.random() < 0.3:
        found.add("Enlarged Cardiomediastinum")
    if "Edema" in found and rng.random() < 0.4:
        found.add("Pleural Effusion")
    if {"Pneumonia", "Consolidation"} & found and rng.random() < 0.6:
        found.add("Lung Opacity")
    return frozenset(found)


def csv_labels(rng: np.random.Generator, found: frozenset[str], valid: bool) -> list[str]:
    """The 14 label cells as the real csv writes them (1.0 / 0.0 / -1.0 / blank)."""
    cells = []
    for name in LABELS:
        positive = (not found) if name == "No Finding" else name in found
        u = rng.random()
        if valid:
            cells.append("1.0" if positive else "0.0")
        elif name == "No Finding":
            cells.append("1.0" if positive else ("0.0" if u < 0.1 else ""))
        elif positive:
            cells.append("-1.0" if u < 0.12 else "1.0")
        else:
            cells.append("-1.0" if u < 0.03 else ("0.0" if u < 0.25 else ""))
    return cells


# ----------------------------------------------------------------------------------------------- drawing
class Canvas:
    """One image's drawing surface: layers drawn with PIL (L mode, 0..255), returned as float32 in 0..1."""

    def __init__(self, h: int, w: int):
        self.h, self.w = h, w
        self.yy = np.arange(h, dtype=np.float32)[:, None]  # broadcast coordinates (h, 1) and (1, w)
        self.xx = np.arange(w, dtype=np.float32)[None, :]

    def draw(self) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        img = Image.new("L", (self.w, self.h), 0)
        return img, ImageDraw.Draw(img)

    @staticmethod
    def done(img: Image.Image, blur: float) -> np.ndarray:
        """Layer -> float array; radii <= SHARP are left to the final whole-image blur (fewer blurs)."""
        if blur > SHARP:
            img = img.filter(ImageFilter.GaussianBlur(blur))
        return np.asarray(img, dtype=np.float32) * np.float32(1 / 255)

    def polygon(self, pts: Points, blur: float) -> np.ndarray:
        img, d = self.draw()
        d.polygon(pts, fill=255)
        return self.done(img, blur)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, blur: float) -> np.ndarray:
        img, d = self.draw()
        d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
        return self.done(img, blur)

    def noise(self, rng: np.random.Generator, cell: int) -> np.ndarray:
        """Smooth zero-mean noise with feature size ~``cell`` pixels."""
        small = rng.standard_normal((self.h // cell + 3, self.w // cell + 3), dtype=np.float32)
        big = Image.fromarray(small).resize((self.w + 3 * cell, self.h + 3 * cell), Image.Resampling.BILINEAR)
        return np.asarray(big, dtype=np.float32)[cell : cell + self.h, cell : cell + self.w]

    def gauss(self, cx: float, cy: float, sx: float, sy: float) -> np.ndarray:
        return np.exp(-(((self.yy - cy) / sy) ** 2) / 2) * np.exp(-(((self.xx - cx) / sx) ** 2) / 2)


def _curve(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float], n: int = 12) -> Points:
    """Quadratic Bezier from p0 to p2 bent towards p1."""
    out = []
    for t in np.linspace(0.0, 1.0, n):
        a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t**2
        out.append((a * p0[0] + b * p1[0] + c * p2[0], a * p0[1] + b * p1[1] + c * p2[1]))
    return out


Cand = tuple[np.ndarray, np.ndarray]


def _cand(mask: np.ndarray, avoid: np.ndarray) -> Cand:
    """Pixels (ys, xs) with mask > 0.5 and avoid < 0.3 (all mask pixels if none)."""
    ys, xs = np.nonzero((mask > 0.5) & (avoid < 0.3))
    return (ys, xs) if len(ys) else np.nonzero(mask > 0.5)


def _pick(rng: np.random.Generator, cand: Cand, y_lo: float = 0.0) -> tuple[int, int]:
    """A random candidate pixel (x, y), preferring y >= y_lo."""
    ys, xs = cand
    if y_lo > 0 and (low := ys >= y_lo).any():
        ys, xs = ys[low], xs[low]
    i = int(rng.integers(len(ys)))
    return int(xs[i]), int(ys[i])


def _lung_outline(cx: float, s: int, t: float, h: float, top: float, cp: float) -> Points:
    """Closed outline of one lung (s=-1 image-left, s=+1 image-right): apex, lateral wall, sharp
    costophrenic angle at (lateral, cp), domed diaphragm, medial border."""
    pts: Points = [(cx + s * 0.06 * t, top + 0.09 * h), (cx + s * 0.11 * t, top + 0.015 * h)]
    for v in np.linspace(0.0, 1.0, 14):
        pts.append((cx + s * t * (0.19 + 0.26 * math.sin(v * math.pi / 2) ** 0.55), top + v * (cp - top)))
    x_lat, x_med, y_med = cx + s * 0.45 * t, cx + s * 0.075 * t, cp - 0.075 * h
    for u in np.linspace(0.0, 1.0, 12)[1:]:
        pts.append((x_lat + (x_med - x_lat) * u, cp + (y_med - cp) * u - 0.045 * h * math.sin(math.pi * u)))
    return pts


@dataclass
class _Chest:
    """One frontal image's anatomy, shared by the finding painters (side s: -1 image-left, +1 image-right)."""

    c: Canvas
    cx: float  # midline
    t: float  # thorax width
    top: float  # lung apices
    base: float  # diaphragm
    atel_side: int  # the side Atelectasis (if present) raises and collapses
    cps: dict[int, float]  # costophrenic angle height per side
    outlines: dict[int, Points]  # lung outline per side
    lungs: np.ndarray  # both lung fields, sharp
    tissue: np.ndarray  # 1 = soft tissue, ~1.19 = mediastinum
    heart_medi: np.ndarray  # heart or mediastinum: findings never sit there

    def __post_init__(self) -> None:
        sides = {-1: self.c.xx < self.cx, 1: self.c.xx >= self.cx}
        self.lung_hard = {s: self.lungs * sides[s] for s in (-1, 1)}
        self.cand = {s: _cand(self.lung_hard[s], self.heart_medi) for s in (-1, 1)}
        self.air = self.lungs * (1 - self.heart_medi)
        self.lung = {s: self.air * sides[s] for s in (-1, 1)}  # findings only replace lung air
        self.keep_markings = np.ones((self.c.h, self.c.w), np.float32)  # 0 where a pneumothorax collapsed

    @property
    def h(self) -> int:
        return self.c.h

    @property
    def y_dome(self) -> float:
        return self.base - 0.075 * self.h


def render_frontal(rng: np.random.Generator, found: frozenset[str], h: int, w: int, ap: bool) -> np.ndarray:
    """One frontal radiograph. ``rng`` drives anatomy and exposure, a child stream drives the findings, so
    toggling a finding changes only what that finding draws (and the heart/mediastinum sizes it sets)."""
    frng = np.random.default_rng(rng.integers(2**63))
    c = Canvas(h, w)
    ch = _chest(c, rng, frng, found, ap)
    ribs, calluses = _ribs(ch, rng, frng, found)
    vessels = _vessels(ch, rng)
    dens = np.zeros((h, w), np.float32)  # finding densities, added on top of the anatomy
    for callus in calluses:  # Fracture: bone, so not limited to the lung
        dens += frng.uniform(0.3, 0.38) * c.ellipse(*callus, 1.5)
    for name, paint in _FINDING_PAINTERS:
        if name in found:
            paint(ch, frng, dens)
    total = _anatomy(ch, ribs, vessels) + dens
    if "Support Devices" in found:
        total = np.maximum(total, _devices(c, frng, ch.cx, ch.t, ch.top, ch.base, ch.y_dome))
    return _expose(c, rng, total)


def _chest(
    c: Canvas, rng: np.random.Generator, frng: np.random.Generator, found: frozenset[str], ap: bool
) -> _Chest:
    """Thorax size and position, lung fields, soft tissue, mediastinum and heart."""
    h, w = c.h, c.w
    t = min(h, w) * rng.uniform(0.74, 0.86)  # thorax width
    cx = w / 2 + rng.normal(0, 0.025 * w)
    top = h * rng.uniform(0.07, 0.13)
    base = top + h * rng.uniform(0.60, 0.68)
    atel_side = int(frng.choice([-1, 1]))
    cps = {s: base + (0.02 * h if s > 0 else 0.0) for s in (-1, 1)}
    if "Atelectasis" in found:  # volume loss: the hemidiaphragm rises
        cps[atel_side] -= frng.uniform(0.04, 0.07) * h
    outlines = {
        s: _lung_outline(cx, s, t * rng.uniform(0.96, 1.03), h, top + (0.01 * h if s > 0 else 0), cps[s])
        for s in (-1, 1)
    }
    img, d = c.draw()
    for s in (-1, 1):
        d.polygon(outlines[s], fill=255)
    lungs = c.done(img, 0)  # sharp; the final blur softens the edges
    y_dome = base - 0.075 * h
    tissue, medi = _body(c, rng, found, cx, t, top, y_dome)
    heart = _heart(c, rng, found, ap, cx, t, y_dome)
    return _Chest(c, cx, t, top, base, atel_side, cps, outlines, lungs, tissue, np.maximum(heart, medi))


def _body(
    c: Canvas,
    rng: np.random.Generator,
    found: frozenset[str],
    cx: float,
    t: float,
    top: float,
    y_dome: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Soft tissue (torso, neck, shoulders) and the denser mediastinum (wider: Enlarged Cardiomediastinum)."""
    h = c.h
    body_img, body = c.draw()
    body.ellipse((cx - 0.6 * t, top - 0.06 * h, cx + 0.6 * t, h * 1.35), fill=215)
    body.rectangle((cx - 0.14 * t, 0, cx + 0.14 * t, top + 0.1 * h), fill=215)
    for s in (-1, 1):
        body.ellipse(
            (cx + s * 0.45 * t - 0.24 * t, top - 0.08 * h, cx + s * 0.45 * t + 0.24 * t, top + 0.12 * h),
            fill=215,
        )
    ecm = "Enlarged Cardiomediastinum" in found
    m = t * (rng.uniform(0.1, 0.15) if ecm else rng.uniform(0.075, 0.11))  # upper mediastinal half-width
    knob = t * (rng.uniform(0.035, 0.05) if ecm else rng.uniform(0.025, 0.04))  # aortic knob
    medi_img, d = c.draw()
    for draw in (body, d):
        draw.polygon(
            [
                (cx - 0.07 * t, 0),
                (cx + 0.07 * t, 0),
                (cx + m, top + 0.12 * h),
                (cx + 0.8 * m, y_dome + 0.05 * h),
                (cx - 0.8 * m, y_dome + 0.05 * h),
                (cx - 0.9 * m, top + 0.12 * h),
            ],
            fill=255,
        )
        draw.ellipse(
            (cx + m - knob, top + 0.13 * h - 1.6 * knob, cx + m + knob, top + 0.13 * h + 1.6 * knob), fill=255
        )
    tissue = c.done(body_img, 6) * np.float32(255 / 215)  # 1 = soft tissue, ~1.19 = mediastinum
    return tissue, c.done(medi_img, 0)


def _heart(
    c: Canvas, rng: np.random.Generator, found: frozenset[str], ap: bool, cx: float, t: float, y_dome: float
) -> np.ndarray:
    """The heart: cardiothoracic ratio ~0.44 (~0.60 with Cardiomegaly), a little wider on AP views."""
    ctr = rng.normal(0.60, 0.035) if "Cardiomegaly" in found else rng.normal(0.44, 0.03)
    hw = np.clip(ctr + (0.03 if ap else 0.0), 0.34, 0.72) * 0.9 * t
    hh = 0.3 * c.h * (0.85 + 0.6 * (ctr - 0.44))  # the lower part hides below the diaphragm
    return c.ellipse(cx + 0.12 * hw, y_dome - 0.055 * c.h, hw / 2, hh / 2, 0)


def _ribs(
    ch: _Chest, rng: np.random.Generator, frng: np.random.Generator, found: frozenset[str]
) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """Ribs (with Fracture one or two adjacent ribs break) and clavicles; returns them and each break's
    callus (x, y, rx, ry)."""
    c, cx, t, top, h = ch.c, ch.cx, ch.t, ch.top, ch.h
    broken: set[tuple[int, int]] = set()  # (side, rib)
    if "Fracture" in found:
        side, k0 = int(frng.choice([-1, 1])), int(frng.integers(2, 7))
        broken = {(side, k0 + j) for j in range(int(frng.integers(1, 3)))}
    calluses = []
    img, d = c.draw()
    rib_w = max(3, round(0.026 * h))
    for s in (-1, 1):
        for k in range(9):
            y0 = top + 0.015 * h + (k + rng.uniform(-0.15, 0.15)) * (ch.cps[s] - top) / 9.5
            bend = rng.uniform(0.04, 0.06) * h
            pts = [
                (cx + s * (0.05 + 0.42 * u) * t, y0 + 0.06 * h * u - bend * math.sin(math.pi * u * 0.9))
                for u in np.linspace(0, 1, 14)
            ]
            if (s, k) in broken:
                calluses.append(_broken_rib(d, frng, pts, rib_w, s * 0.03 * t, h))
            else:
                d.line(pts, fill=255, width=rib_w)
    for s in (-1, 1):
        d.line(
            _curve(
                (cx + s * 0.08 * t, top + 0.05 * h),
                (cx + s * 0.25 * t, top + 0.03 * h),
                (cx + s * 0.42 * t, top - 0.03 * h),
            ),
            fill=255,
            width=max(3, round(0.03 * h)),
        )
    return c.done(img, 1.2), calluses


def _broken_rib(
    d: ImageDraw.ImageDraw, frng: np.random.Generator, pts: Points, rib_w: int, dx: float, h: int
) -> tuple[float, float, float, float]:
    """A break with a step-off near the lateral chest wall; returns its healing callus (x, y, rx, ry), which
    bulges over the chest wall lateral to the lung (``dx`` outwards; a nodule would lie inside)."""
    cut = int(frng.integers(10, 12))  # of the 14 points: the lateral end, at the lung's edge
    dy = frng.choice([-1, 1]) * frng.uniform(0.025, 0.04) * h
    d.line(pts[:cut], fill=255, width=rib_w)
    d.line([(x, y + dy) for x, y in pts[cut + 1 :]], fill=255, width=rib_w)
    x, y = pts[-1]
    rx, ry = 2.0 * rib_w * frng.uniform(0.9, 1.2), 1.6 * rib_w * frng.uniform(0.9, 1.2)
    return (x + dx, y + dy, rx, ry)


def _vessels(ch: _Chest, rng: np.random.Generator) -> np.ndarray:
    """Vessel trees from each hilum into the lung, plus fine lung texture."""
    c, cx, t, top, h = ch.c, ch.cx, ch.t, ch.top, ch.h
    img, d = c.draw()
    for s in (-1, 1):
        for _ in range(9):
            hx, hy = cx + s * rng.uniform(0.08, 0.13) * t, top + rng.uniform(0.3, 0.42) * h
            ex, ey = _pick(rng, ch.cand[s])
            f = rng.uniform(0.35, 0.6)
            mx, my = hx + f * (ex - hx) + rng.normal(0, 5), hy + f * (ey - hy) + rng.normal(0, 5)
            d.line([(hx, hy), (mx, my)], fill=255, width=2)
            for _ in range(2):
                d.line([(mx, my), (ex + rng.normal(0, 12), ey + rng.normal(0, 12))], fill=150, width=1)
    return c.done(img, 1.0) + 0.25 * np.clip(c.noise(rng, 5), -2, 2)


def _anatomy(ch: _Chest, ribs: np.ndarray, vessels: np.ndarray) -> np.ndarray:
    """Anatomy density: heart and mediastinum displace lung air; soft tissue below the diaphragm matches
    the heart."""
    c, tissue, air = ch.c, ch.tissue, ch.air
    spine_band = np.exp(-(((c.xx - ch.cx) / (0.035 * ch.t)) ** 4))
    discs = 0.75 + 0.25 * np.cos(2 * np.pi * (c.yy - ch.top) / ((ch.base - ch.top) / 10))
    return (
        0.05
        + 0.62 * tissue
        + 0.07 * spine_band * discs * tissue
        - 0.45 * air
        + 0.06 * ribs * np.clip(tissue * 1.3, 0, 1)
        + 0.1 * vessels * air * ch.keep_markings
    )


# Finding painters: each adds its density to ``dens`` in place, drawing from the findings stream.
def _effusion(ch: _Chest, frng: np.random.Generator, dens: np.ndarray) -> None:
    """Fluid with a meniscus at one or both lung bases."""
    c, cx, t, h = ch.c, ch.cx, ch.t, ch.h
    eff_sides = [[-1], [1], [-1, 1]][int(frng.choice(3, p=[0.4, 0.3, 0.3]))]
    for s in eff_sides:
        level = frng.uniform(0.09, 0.22) * h
        x_med, x_lat = cx + s * 0.05 * t, cx + s * 0.5 * t
        men = [
            (x_med + (x_lat - x_med) * u, ch.cps[s] - level * (0.3 + 0.7 * u**1.5))
            for u in np.linspace(0, 1, 12)
        ]
        fluid = c.polygon([*men, (x_lat, h), (x_med, h)], 2.5) * ch.lung[s]
        dens += frng.uniform(0.36, 0.46) * fluid


def _opacity(ch: _Chest, frng: np.random.Generator, dens: np.ndarray) -> None:
    """One to three soft, mottled blobs."""
    c, t = ch.c, ch.t
    for _ in range(int(frng.integers(1, 4))):
        s = int(frng.choice([-1, 1]))
        x, y = _pick(frng, ch.cand[s])
        r = frng.uniform(0.07, 0.12) * t
        blob = c.ellipse(x, y, r * frng.uniform(0.7, 1.3), r * frng.uniform(0.7, 1.3), r * 0.5)
        dens += (
            frng.uniform(0.24, 0.34) * blob * (1 + 0.4 * np.clip(c.noise(frng, 6), -1.5, 1.5)) * ch.lung[s]
        )


def _consolidation(ch: _Chest, frng: np.random.Generator, dens: np.ndarray) -> None:
    """A dense irregular patch with air bronchograms."""
    c = ch.c
    s = int(frng.choice([-1, 1]))
    x, y = _pick(frng, ch.cand[s])
    r = frng.uniform(0.1, 0.15) * ch.t
    ang = np.linspace(0, 2 * np.pi, 11)[:-1] + frng.uniform(0, 1)
    rad = r * frng.uniform(0.75, 1.15, size=10)
    patch = c.polygon(
        [(x + a * math.cos(b), y + a * math.sin(b)) for a, b in zip(rad, ang, strict=True)], 2.5
    )
    img, d = c.draw()  # air bronchograms
    for _ in range(3):
        b = frng.uniform(0, 2 * np.pi)
        d.line([(x, y), (x + 0.8 * r * math.cos(b), y + 0.8 * r * math.sin(b))], fill=255, width=3)
    dens += (frng.uniform(0.3, 0.38) - 0.12 * c.done(img, 0.8)) * patch * ch.lung[s]


def _pneumonia(ch: _Chest, frng: np.random.Generator, dens: np.ndarray) -> None:
    """A cluster of small patchy densities in a lower zone."""
    c, t = ch.c, ch.t
    s = int(frng.choice([-1, 1]))
    x0, y0 = _pick(frng, ch.cand[s], y_lo=ch.top + 0.4 * (ch.cps[s] - ch.top))
    img, d = c.draw()
    for _ in range(int(frng.integers(6, 11))):
        x, y = x0 + frng.normal(0, 0.06 * t), y0 + frng.normal(0, 0.06 * t)
        r = frng.uniform(0.03, 0.055) * t
        d.ellipse((x - r, y - r, x + r, y + r), fill=255)
    dens += frng.uniform(0.22, 0.3) * c.done(img, 3) * ch.lung[s]


def _edema(ch: _Chest, frng: np.random.Generator, dens: np.ndarray) -> None:
    """Perihilar haze on both sides and Kerley B lines at the lateral bases."""
    c, cx, t, top, h = ch.c, ch.cx, ch.t, ch.top, ch.h
    amp = frng.uniform(0.1, 0.2)
    haze = sum(c.gauss(cx + s * 0.15 * t, top + 0.42 * h, 0.12 * t, 0.16 * h) for s in (-1, 1))
    img, d = c.draw()
    for s in (-1, 1):
        for _ in range(int(frng.integers(3, 7))):
            y = ch.cps[s] - frng.uniform(0.03, 0.15) * h
            x = cx + s * frng.uniform(0.36, 0.43) * t
            d.line([(x, y), (x + s * 0.04 * t, y)], fill=255, width=1)
    dens += (
        amp * haze * (1 + 0.35 * np.clip(c.noise(frng, 8), -1.5, 1.5)) + 0.12 * c.done(img, 0.6)
    ) * ch.air


def _pneumothorax(ch: _Chest, frng: np.random.Generator, dens: np.ndarray) -> None:
    """A partly collapsed lung: a dark gap without markings and a visceral pleural line."""
    c, top, h = ch.c, ch.top, ch.h
    s = int(frng.choice([-1, 1]))
    cp = ch.cps[s]
    ax, ay = ch.cx + s * 0.1 * ch.t, cp - 0.1 * h
    f = frng.uniform(0.5, 0.72)
    collapsed = []
    for x, y in ch.outlines[s]:
        wgt = float(np.clip((cp - y) / (cp - top), 0, 1)) ** 0.7
        k = 1 - (1 - f) * wgt
        collapsed.append((ax + k * (x - ax), ay + k * (y - ay)))
    gap = np.clip(ch.lung_hard[s] - c.polygon(collapsed, 0), 0, 1)
    ch.keep_markings *= 1 - gap
    dens -= frng.uniform(0.12, 0.18) * gap
    img, d = c.draw()  # visceral pleural line along the upper part of the collapsed lung
    upper = [p for p, (_, y) in zip(collapsed, ch.outlines[s], strict=True) if (cp - y) / (cp - top) > 0.2]
    d.line(upper, fill=255, width=max(2, round(0.008 * h)))
    dens += frng.uniform(0.26, 0.34) * c.done(img, 0.5) * ch.lung[s]


def _atelectasis(ch: _Chest, frng: np.random.Generator, dens: np.ndarray) -> None:
    """One or two plate-like bands in the lower zone of the side whose hemidiaphragm rose."""
    c, h, s = ch.c, ch.h, ch.atel_side
    for _ in range(int(frng.integers(1, 3))):
        x, y = _pick(frng, ch.cand[s], y_lo=ch.top + 0.5 * (ch.cps[s] - ch.top))
        half, ang = frng.uniform(0.09, 0.14) * ch.t, math.radians(frng.uniform(-20, 20))
        img, d = c.draw()
        d.line(
            [
                (x - half * math.cos(ang), y - half * math.sin(ang)),
                (x + half * math.cos(ang), y + half * math.sin(ang)),
            ],
            fill=255,
            width=max(4, round(frng.uniform(0.025, 0.04) * h)),
        )
        dens += frng.uniform(0.3, 0.38) * c.done(img, 2) * ch.lung[s]


def _lesion(ch: _Chest, frng: np.random.Generator, dens: np.ndarray) -> None:
    """One or two well-defined round nodules (sharp edges, unlike opacities)."""
    for _ in range(int(frng.integers(1, 3))):
        s = int(frng.choice([-1, 1]))
        x, y = _pick(frng, ch.cand[s])
        r = frng.uniform(0.04, 0.06) * ch.h
        dens += frng.uniform(0.4, 0.5) * ch.c.ellipse(x, y, r, r, 0.8)


def _pleural_other(ch: _Chest, frng: np.random.Generator, dens: np.ndarray) -> None:
    """A dense (calcified) band along the lateral wall, brighter than the soft tissue beside it."""
    top, s = ch.top, int(frng.choice([-1, 1]))
    cp = ch.cps[s]
    lo, hi = sorted(frng.uniform(0.0, 0.85, size=2))
    hi = max(hi, lo + 0.4)
    width = max(7, round(frng.uniform(0.04, 0.055) * ch.h))
    wall = [(x - s * 0.4 * width, y) for x, y in ch.outlines[s][2:16] if lo <= (y - top) / (cp - top) <= hi]
    img, d = ch.c.draw()
    d.line(wall if len(wall) > 1 else ch.outlines[s][2:6], fill=255, width=width)
    dens += frng.uniform(0.5, 0.6) * ch.c.done(img, 1.5)


# in drawing order (the order draws from the findings stream)
_FINDING_PAINTERS = (
    ("Pleural Effusion", _effusion),
    ("Lung Opacity", _opacity),
    ("Consolidation", _consolidation),
    ("Pneumonia", _pneumonia),
    ("Edema", _edema),
    ("Pneumothorax", _pneumothorax),
    ("Atelectasis", _atelectasis),
    ("Lung Lesion", _lesion),
    ("Pleural Other", _pleural_other),
)


def _devices(
    c: Canvas, rng: np.random.Generator, cx: float, t: float, top: float, base: float, y_dome: float
) -> np.ndarray:
    """Tubes, lines, pacemaker, ECG leads: very bright (radio-opaque) structures, 1-2 pixels wide at 64 px."""
    h = c.h
    lw = max(3, round(0.015 * h))  # line width
    img, d = c.draw()
    side = int(rng.choice([-1, 1]))
    kinds = rng.choice(["ett", "cvc", "ng", "pacer", "leads"], size=int(rng.integers(2, 4)), replace=False)
    for kind in kinds:
        if kind == "ett":
            x = cx + rng.normal(0, 3)
            d.line([(x, 0), (x + rng.normal(0, 3), top + rng.uniform(0.1, 0.18) * h)], fill=250, width=lw + 2)
        elif kind == "cvc":
            d.line(
                _curve(
                    (cx + side * 0.4 * t, top - 0.02 * h),
                    (cx + side * 0.1 * t, top + 0.06 * h),
                    (cx + 0.02 * t, top + rng.uniform(0.22, 0.3) * h),
                ),
                fill=250,
                width=lw + 2,
            )
        elif kind == "ng":
            x = cx - 0.01 * t + rng.normal(0, 3)
            d.line([(x, 0), (x + 0.02 * t, base)], fill=250, width=lw)
            d.line(
                _curve((x + 0.02 * t, base), (x + 0.05 * t, base + 0.1 * h), (cx + 0.22 * t, base + 0.1 * h)),
                fill=250,
                width=lw,
            )
        elif kind == "pacer":
            px, py = cx + side * 0.33 * t, top + 0.03 * h
            d.rectangle((px - 0.06 * t, py - 0.04 * t, px + 0.06 * t, py + 0.04 * t), fill=255)
            lead = _curve((px, py), (cx, top + 0.1 * h), (cx + 0.1 * t, y_dome - 0.02 * h))
            d.line(lead, fill=250, width=max(2, lw // 2))
        else:
            r = 0.025 * h
            for _ in range(int(rng.integers(3, 5))):
                x, y = cx + rng.uniform(-0.45, 0.45) * t, rng.uniform(top, base)
                d.ellipse((x - r, y - r, x + r, y + r), outline=250, width=max(2, lw // 2))
                d.line([(x, y + r), (x + rng.normal(0, 0.2) * t, h)], fill=240, width=max(2, lw // 2))
    return c.done(img, 0.7)


def _expose(c: Canvas, rng: np.random.Generator, dens: np.ndarray) -> np.ndarray:
    """Density -> 8-bit pixel: slight blur, random exposure, noise, small rotation, laterality marker."""
    blurred = Image.fromarray((np.clip(dens, 0, 1) * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(SHARP)
    )
    levels = np.linspace(0, 1, 256, dtype=np.float32)  # exposure as a lookup table: gamma, contrast, offset
    lut = levels ** rng.uniform(0.75, 1.25) * rng.uniform(0.85, 1.1) + rng.normal(0.05, 0.03)
    p = lut[np.asarray(blurred)]
    p += 0.02 * c.noise(rng, 24) + rng.uniform(0.008, 0.025) * rng.standard_normal(p.shape, dtype=np.float32)
    out = Image.fromarray((np.clip(p, 0, 1) * 255).round().astype(np.uint8))
    if rng.random() < 0.6:
        d = ImageDraw.Draw(out)
        x, y = (c.w * rng.uniform(0.05, 0.12), c.h * rng.uniform(0.04, 0.1))
        if rng.random() < 0.5:
            x = c.w - x - 10
        d.line([(x, y), (x, y + 14), (x + 9, y + 14)], fill=235, width=2)
    angle = rng.uniform(-3.0, 3.0)
    return np.asarray(
        out.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=int(np.asarray(out)[0, 0]))
    )


def render_lateral(rng: np.random.Generator, found: frozenset[str], h: int, w: int) -> np.ndarray:
    """A simpler lateral view: one lung field, anterior heart, posterior spine; a subset of findings."""
    frng = np.random.default_rng(rng.integers(2**63))  # findings stream, as in render_frontal
    c = Canvas(h, w)
    t = min(h, w) * rng.uniform(0.74, 0.86)
    cx, top = w / 2 + rng.normal(0, 0.02 * w), h * rng.uniform(0.08, 0.14)
    tissue = c.ellipse(cx, 0.6 * h, 0.5 * t, 0.62 * h, 8)
    lung_hard = c.ellipse(cx, top + 0.33 * h, 0.34 * t, 0.33 * h, 0)
    lung = c.ellipse(cx, top + 0.33 * h, 0.34 * t, 0.33 * h, 2)
    rx = 0.17 * t * (1.3 if "Cardiomegaly" in found else 1.0) * rng.uniform(0.92, 1.08)
    heart = c.ellipse(cx - 0.18 * t, top + 0.48 * h, rx, 0.15 * h, 3)
    img, d = c.draw()
    for k in range(12):
        y = top + k * 0.065 * h
        d.rectangle((cx + 0.33 * t, y, cx + 0.44 * t, y + 0.05 * h), fill=255)
    spine = c.done(img, 1.5)
    dens = np.zeros((h, w), np.float32)
    if "Pleural Effusion" in found:
        level = frng.uniform(0.06, 0.16) * h
        dens += (
            0.35
            * c.polygon(
                _curve((cx - 0.3 * t, h), (cx, top + 0.66 * h), (cx + 0.34 * t, top + 0.66 * h - level))
                + [(cx + 0.34 * t, h)],
                2.5,
            )
            * lung
        )
    for name, amp in (
        ("Lung Opacity", 0.18),
        ("Consolidation", 0.3),
        ("Pneumonia", 0.22),
        ("Lung Lesion", 0.3),
    ):
        if name in found:
            x, y = _pick(frng, _cand(lung_hard, heart))
            r = (0.05 if name == "Lung Lesion" else frng.uniform(0.05, 0.1)) * t
            dens += amp * c.ellipse(x, y, r, r, r * 0.4) * lung
    air = lung * (1 - heart)
    total = 0.05 + 0.62 * tissue + 0.12 * spine - 0.42 * air + dens
    if "Support Devices" in found:
        img, d = c.draw()
        d.line([(cx + frng.normal(0, 5), 0), (cx + 0.05 * t, top + 0.6 * h)], fill=230, width=3)
        total = np.maximum(total, c.done(img, 0.7))
    return _expose(c, rng, total)


# ------------------------------------------------------------------------------------------------ writer
@dataclass(frozen=True)
class _Job:
    index: int  # image number: seeds the image's own random stream
    rel: str  # csv Path, relative to the root
    findings: frozenset[str]
    lateral: bool
    ap: bool


def _render_job(root: Path, seed: int, job: _Job) -> None:
    rng = np.random.default_rng([seed, 1, job.index])
    hw = (320, int(rng.integers(320, 400))) if rng.random() < 0.8 else (int(rng.integers(320, 390)), 320)
    if job.lateral:
        pix = render_lateral(rng, job.findings, *hw)
    else:
        pix = render_frontal(rng, job.findings, *hw, ap=job.ap)
    out = root / job.rel
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pix).save(out, format="JPEG", quality=JPEG_QUALITY)


def write_chexpert(root: Path, n_records: int, seed: int = 0, shuffle_labels: bool = False) -> Path:
    """Write ``n_records`` JPGs + ``CheXpert-v1.0-small/{train,valid}.csv`` under ``root``; returns ``root``.

    About 15% of the images (whole patients) go to valid.csv; a quarter of the patients have two studies and
    a few studies add a lateral view. ``shuffle_labels`` permutes the csv label rows across images (the
    images keep their true findings: a negative control). Same arguments -> byte-identical files.
    """
    if n_records < 2:
        raise ValueError(f"n_records must be >= 2, got {n_records}")
    root = Path(root)
    data = root / DATA_DIR
    data.mkdir(parents=True, exist_ok=True)
    for name in ("train.csv", "valid.csv"):  # csvs are written last: their presence means "complete"
        (data / name).unlink(missing_ok=True)
    rng = np.random.default_rng([seed, 0])
    patients = _chexpert_patients(rng, n_records)
    valid_ids = _valid_patients(rng, patients, n_records)
    jobs, entries, label_rows = _chexpert_jobs(rng, patients, valid_ids)
    for job in jobs:
        _render_job(root, seed, job)
    if shuffle_labels:
        perm = np.random.default_rng([seed, 2]).permutation(len(label_rows))
        label_rows = [label_rows[i] for i in perm]
    for csv_name in ("train.csv", "valid.csv"):
        with (data / csv_name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow([*META_COLUMNS, *LABELS])
            for (name, meta), cells in zip(entries, label_rows, strict=True):
                if name == csv_name:
                    writer.writerow([*meta, *cells])
    logger.info("wrote %d CheXpert images (%d patients in valid.csv) to %s", len(jobs), len(valid_ids), data)
    return root


def _chexpert_patients(rng: np.random.Generator, n_records: int) -> list[dict]:
    """Patients (sex, age, studies: list of (findings, lateral)) until ``n_records`` images."""
    patients: list[dict] = []
    n = 0
    while n < n_records:
        studies = []
        for _ in range(2 if rng.random() < TWO_STUDY_FRACTION else 1):
            if n >= n_records:
                break
            lateral = n + 1 < n_records and rng.random() < LATERAL_FRACTION
            studies.append((study_findings(rng), lateral))
            n += 2 if lateral else 1
        patients.append(
            {
                "sex": "Female" if rng.random() < 0.42 else "Male",
                "age": int(rng.integers(18, 91)),
                "studies": studies,
            }
        )
    return patients


def _valid_patients(rng: np.random.Generator, patients: list[dict], n_records: int) -> set[int]:
    """Whole patients for valid.csv: about VALID_FRACTION of the images, at least one, never all patients."""
    sizes = [sum(2 if lat else 1 for _, lat in p["studies"]) for p in patients]
    valid_ids: set[int] = set()
    n_valid = 0
    for i in rng.permutation(len(patients)):
        if n_valid >= max(1, round(VALID_FRACTION * n_records)) or len(valid_ids) == len(patients) - 1:
            break
        valid_ids.add(int(i))
        n_valid += sizes[i]
    return valid_ids


def _chexpert_jobs(
    rng: np.random.Generator, patients: list[dict], valid_ids: set[int]
) -> tuple[list[_Job], list[tuple[str, list[str]]], list[list[str]]]:
    """One render job per image, with its csv entry (csv name, meta cells) and label cells."""
    jobs: list[_Job] = []
    entries: list[tuple[str, list[str]]] = []
    label_rows: list[list[str]] = []
    counters = {"train.csv": 0, "valid.csv": FIRST_VALID_PATIENT - 1}
    for pi, pat in enumerate(patients):
        csv_name = "valid.csv" if pi in valid_ids else "train.csv"
        counters[csv_name] += 1
        folder = csv_name.removesuffix(".csv")
        for si, (found, lateral) in enumerate(pat["studies"], start=1):
            cells = csv_labels(rng, found, csv_name == "valid.csv")
            ap = "AP" if rng.random() < 0.7 else "PA"
            for view, kind in [("view1_frontal", "Frontal")] + (
                [("view2_lateral", "Lateral")] if lateral else []
            ):
                rel = f"{DATA_DIR}/{folder}/patient{counters[csv_name]:05d}/study{si}/{view}.jpg"
                jobs.append(_Job(len(jobs), rel, found, kind == "Lateral", ap == "AP"))
                entries.append(
                    (csv_name, [rel, pat["sex"], str(pat["age"]), kind, ap if kind == "Frontal" else ""])
                )
                label_rows.append(cells)
    return jobs, entries, label_rows
