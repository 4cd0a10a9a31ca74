"""Reading TUH EEG EDF files (shared by TUAB and TUEV): header-only inspection and windowed signal reads.

TUH EDF signal labels name an electrode and its reference: ``EEG FP1-REF`` (averaged reference, montage
``01_tcp_ar``) or ``EEG FP1-LE`` (linked ears, ``02_tcp_le``). Other EDF spellings are read too: any case, no
``EEG`` prefix, no reference, PhysioNet's trailing dots (``Fc5.``, ``Cz..``). Electrode names are returned
in TUH's 10-20 spelling (:func:`climbflow.modalities.eeg.electrode`: ``FP1``, T7 -> T3, ...); two signals
naming the same electrode (``T3`` and ``T7``) are refused (``ambiguous_channel``). Non-electrode signals
(``PHOTIC-REF``, ``EEG EKG1-REF``, ``IBI``, bipolar ``FP1-F7``, ...) are ignored.

Units: each signal's physical dimension is converted to µV (:mod:`climbflow.catalog.units`; a blank one is
taken as µV, TUH's documented unit, and recorded as ``unit_assumed``). Rates: the EEG signals are returned at
the rate most of them have; a signal at another rate is resampled to it (polyphase, exact rational factor,
listed in meta ``resampled_channels``), or refused (``bad_sampling_rate``) below ``MIN_RATE``.

Real downloads keep the corpus in a version folder (``tuh_eeg_abnormal/v3.0.1/edf/...``): :func:`edf_root`
finds ``edf/`` in the given folder or one level below it.

The patient field of TUH headers reads ``<subject> <sex> <birthdate> <subject> Age:<years>``; only sex and
age are kept (no birthdate: it is PHI).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.signal import resample_poly

from climbflow.catalog import units
from climbflow.catalog.base import CatalogError, RawRecord, RecordError, Rejected
from climbflow.config import EegStandardizeConfig
from climbflow.modalities import eeg

EDF_DIR = "edf"
SIGNAL_LABEL = re.compile(r"^(?:EEG\s+)?([A-Z0-9]+)(?:-(REF|LE|AR|AVG))?$", re.IGNORECASE)
MIN_RATE = eeg.MIN_SAMPLING_RATE  # Hz; a signal below this is refused, not upsampled
MARGIN_SECONDS = 2.5  # signal read on each side of a window so that filtering has no edge transient
_AGE = re.compile(r"\bAge:\s*(\d+)", re.IGNORECASE)
_WINDOW_DEFAULT = EegStandardizeConfig.model_fields["window_seconds"].default
MAX_WINDOWS_DEFAULT = EegStandardizeConfig.model_fields["max_windows"].default


class EegWindowOptions(BaseModel):
    """How recordings are cut into windows at index time; must match ``standardize.eeg`` (checked there)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_seconds: float = Field(
        _WINDOW_DEFAULT, gt=0, description="window length; keep equal to standardize.eeg.window_seconds"
    )


@dataclass(frozen=True)
class EdfHeader:
    """What the EDF header of a TUH recording says (no signal read)."""

    duration: float  # seconds
    labels: tuple[str, ...]
    rates: tuple[float, ...]
    units: tuple[str, ...]
    age: float | None
    sex: str | None

    def electrodes(self) -> dict[str, tuple[int, str]]:
        """Electrode name -> (signal index, reference) for the EEG signals (first occurrence wins)."""
        found: dict[str, tuple[int, str]] = {}
        for i, label in enumerate(self.labels):
            parsed = electrode_name(label)
            if parsed is not None and parsed[0] not in found:
                found[parsed[0]] = (i, parsed[1])
        return found

    def reference(self) -> str | None:
        """The most common reference suffix of the EEG signals (``REF`` or ``LE``), None if there are none."""
        refs = Counter(ref for _, ref in self.electrodes().values() if ref)
        return refs.most_common(1)[0][0] if refs else None


def electrode_name(label: str) -> tuple[str, str] | None:
    """``'EEG FP1-REF'`` -> ``('FP1', 'REF')``, ``'Fc5.'`` -> ``('FC5', '')``, ``'eeg t7-le'`` ->
    ``('T3', 'LE')``; None for signals that are not a referential EEG electrode."""
    match = SIGNAL_LABEL.match(label.strip().rstrip("."))
    name = eeg.electrode(match.group(1)) if match else None
    return None if name is None else (name, (match.group(2) or "").upper())


def edf_root(root: Path) -> Path:
    """``root`` if it holds ``edf/``, else the one folder below it that does (a version folder such as
    ``v3.0.1``); ``root`` if none does. CatalogError if several version folders do."""
    root = Path(root)
    if (root / EDF_DIR).is_dir():
        return root
    found = sorted(p.parent for p in root.glob(f"*/{EDF_DIR}") if p.is_dir())
    if len(found) > 1:
        names = [p.name for p in found]
        message = f"{root}: several version folders hold {EDF_DIR}/ ({names}); point the source at one"
        raise CatalogError(message)
    return found[0] if found else root


def edf_files(root: Path, suffixes: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """(path relative to ``root``, path parts below ``edf/``) of the files with ``suffixes``, sorted."""
    base = edf_root(root) / EDF_DIR
    return [
        (path.relative_to(root).as_posix(), path.relative_to(base).parts)
        for path in sorted(base.rglob("*"))
        if path.is_file() and path.suffix.lower() in suffixes
    ]


def counted(
    items: Iterable[RawRecord | Rejected], log: logging.Logger, what: str
) -> Iterator[RawRecord | Rejected]:
    """Pass ``items`` through, then log ``what`` with the number of records (``ok``) and of each rule."""
    counts: Counter[str] = Counter()
    for item in items:
        counts[item.rule if isinstance(item, Rejected) else "ok"] += 1
        yield item
    log.info("%s: %s", what, dict(counts))


def _open(root: Path, rel: str) -> Any:
    import pyedflib

    path = Path(root) / rel
    if not path.is_file():
        raise RecordError("missing_file", f"{rel} not found under {root}")
    if path.stat().st_size == 0:
        raise RecordError("empty_file", f"{rel} is empty (0 bytes)")
    try:
        return pyedflib.EdfReader(str(path))
    except Exception as exc:  # pyedflib raises OSError with edflib's reason (bad header, file size...)
        raise RecordError(
            "corrupt_edf", f"{rel}: not a readable EDF file ({type(exc).__name__}: {exc})"
        ) from None


def _patient(reader: Any) -> tuple[float | None, str | None]:
    raw = reader.patient if isinstance(reader.patient, str) else bytes(reader.patient).decode("latin-1")
    tokens = raw.split()
    sex = next((t.upper() for t in tokens[1:2] if t.upper() in ("M", "F")), None)
    age = _AGE.search(raw)
    return (float(age.group(1)) if age else None), sex


def read_header(root: Path, rel: str) -> EdfHeader:
    """The header of ``root/rel`` (RecordError ``missing_file``/``empty_file``/``corrupt_edf``)."""
    reader = _open(root, rel)
    try:
        n = reader.signals_in_file
        age, sex = _patient(reader)
        return EdfHeader(
            duration=float(reader.getFileDuration()),
            labels=tuple(reader.getSignalLabels()),
            rates=tuple(float(r) for r in reader.getSampleFrequencies()),
            units=tuple(reader.getPhysicalDimension(i).strip() for i in range(n)),
            age=age,
            sex=sex,
        )
    finally:
        reader.close()


def window_starts(duration: float, window_seconds: float, max_windows: int | None = None) -> list[float]:
    """Starts (s) of consecutive non-overlapping windows from the recording start that fit in ``duration``."""
    count = int(math.floor(duration / window_seconds + 1e-9))
    if max_windows is not None:
        count = min(count, max_windows)
    return [k * window_seconds for k in range(count)]


def _eeg_signals(labels: list[str], rel: str) -> list[tuple[int, str, str]]:
    """(signal index, electrode, reference) of the EEG signals (RecordError ``no_eeg_channels``,
    ``ambiguous_channel``)."""
    picked: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for i, label in enumerate(labels):
        parsed = electrode_name(label)
        if parsed is None:
            continue
        if parsed[0] in seen:
            message = (
                f"{rel}: signals {labels[seen[parsed[0]]]!r} and {label!r} both map to 10-20 electrode "
                f"{parsed[0]}; labels {list(labels)}"
            )
            raise RecordError("ambiguous_channel", message)
        seen[parsed[0]] = i
        picked.append((i, *parsed))
    if not picked:
        message = f"{rel}: no EEG electrode signal (10-10/10-20 name) in {list(labels)}"
        raise RecordError("no_eeg_channels", message)
    return picked


def _rational(rate: float) -> Fraction:
    return Fraction(rate).limit_denominator(1000)


def _grid(rates: list[Fraction]) -> Fraction:
    """The shortest time step (s) on which a sample of every rate falls: 1 / gcd(rates)."""
    num, den = 0, 1
    for r in rates:
        num, den = math.gcd(num * r.denominator, r.numerator * den), den * r.denominator
    return Fraction(den, num)


def read_window(root: Path, rel: str, start: float, seconds: float) -> tuple[np.ndarray, dict[str, Any]]:
    """The EEG electrodes of ``rel`` from about ``start - margin`` to ``start + seconds + margin`` (clamped).

    Returns float32 ``(channels, samples)`` in µV at the rate most EEG signals have (others resampled) and
    props: ``sampling_rate``, ``channel_names``, ``window_offset`` (seconds from the first returned sample to
    the window start), ``window_seconds`` and ``meta`` (reference, window start, ``source_unit``,
    ``unit_assumed``, ``resampled_channels``). RecordError: ``missing_file``, ``empty_file``, ``corrupt_edf``,
    ``no_eeg_channels``, ``ambiguous_channel``, ``bad_unit``, ``bad_sampling_rate``, ``too_short``.
    """
    reader = _open(root, rel)
    try:
        labels = list(reader.getSignalLabels())
        picked = _eeg_signals(labels, rel)
        rates = {i: float(reader.getSampleFrequencies()[i]) for i, _, _ in picked}
        rate = Counter(rates.values()).most_common(1)[0][0]
        if not math.isfinite(rate) or rate <= 0:
            raise RecordError("bad_sampling_rate", f"{rel}: EEG sampling rate {rate!r} Hz")
        low = [f"{labels[i]!r} at {r:g} Hz" for i, r in rates.items() if r != rate and not r >= MIN_RATE]
        if low:
            message = f"{rel}: signals {low} are below {MIN_RATE:g} Hz, not resampled to {rate:g} Hz"
            raise RecordError("bad_sampling_rate", message)
        factors, unit_meta = units.conversion(
            [reader.getPhysicalDimension(i) for i, _, _ in picked],
            [labels[i] for i, _, _ in picked],
            eeg.UNIT,
            eeg.UNIT,
            rel,
        )
        duration = float(reader.getFileDuration())
        if start < 0 or start + seconds > duration + 1e-6:
            raise RecordError(
                "too_short",
                f"{rel}: window {start:.2f}-{start + seconds:.2f} s outside the {duration:.2f} s recording",
            )
        step = _grid([_rational(r) for r in set(rates.values())])
        t0 = step * math.floor(max(0.0, start - MARGIN_SECONDS) / step + 1e-9)
        t1 = min(start + seconds + MARGIN_SECONDS, duration)
        length = int(round((t1 - float(t0)) * rate))
        rows = [_read(reader, i, t0, length, _rational(r), _rational(rate)) for i, r in rates.items()]
        length = min(len(row) for row in rows)
        signal = (np.stack([row[:length] for row in rows]) * factors[:, None]).astype(np.float32)
        refs = Counter(ref for _, _, ref in picked if ref)
        resampled = [f"{name}@{rates[i]:g}Hz" for i, name, _ in picked if rates[i] != rate]
        props = {
            "sampling_rate": rate,
            "channel_names": [name for _, name, _ in picked],
            "window_offset": start - float(t0),
            "window_seconds": float(seconds),
            "meta": {
                "reference": refs.most_common(1)[0][0] if refs else None,
                "window_start_s": float(start),
                **unit_meta,
                "resampled_channels": ",".join(resampled),
            },
        }
        return signal, props
    except RecordError:
        raise
    except Exception as exc:  # truncated data records, read errors
        raise RecordError("corrupt_edf", f"{rel}: signal unreadable ({type(exc).__name__}: {exc})") from None
    finally:
        reader.close()


def _read(reader: Any, i: int, t0: Fraction, length: int, rate: Fraction, target: Fraction) -> np.ndarray:
    """Signal ``i`` from time ``t0`` (on its sample grid), ``length`` samples at ``target`` Hz."""
    first = int(t0 * rate)
    total = int(reader.getNSamples()[i])
    ratio = target / rate
    n = min(total - first, math.ceil(length / ratio))
    x = np.asarray(reader.readSignal(i, start=first, n=n), dtype=np.float64)
    if ratio != 1:
        x = resample_poly(x, ratio.numerator, ratio.denominator, padtype="line")
    return x[:length]


def window_meta(header: EdfHeader, start: float, window: float) -> dict[str, Any]:
    """What every TUH window record carries: demographics, the window, the recording and its rate."""
    rates = Counter(header.rates[i] for i, _ in header.electrodes().values())
    return {
        "age": header.age,
        "sex": header.sex,
        "window_start_s": start,
        "window_seconds": window,
        "recording_seconds": header.duration,
        "reference": header.reference(),
        "sampling_rate": rates.most_common(1)[0][0] if rates else None,
    }


def decode_window(root: Path, record: Any, keep: str) -> tuple[np.ndarray, dict[str, Any]]:
    """float32 (channels, samples) µV of a window record (see :func:`read_window`); ``record.meta[keep]`` is
    copied into the stored meta (the montage for TUAB, the event for TUEV)."""
    signal, props = read_window(
        Path(root),
        record.files[0],
        float(record.meta["window_start_s"]),
        float(record.meta["window_seconds"]),
    )
    props["meta"][keep] = record.meta.get(keep)
    return signal, props
