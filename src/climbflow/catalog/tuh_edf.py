"""Reading TUH EEG EDF files (shared by TUAB and TUEV): header-only inspection and windowed signal reads.

TUH EDF signal labels name an electrode and its reference: ``EEG FP1-REF`` (averaged reference, montage
``01_tcp_ar``) or ``EEG FP1-LE`` (linked ears, ``02_tcp_le``). Electrode names are returned upper-case without
the ``EEG`` prefix and the reference suffix (``FP1``); 10-10 names are mapped to TUH's 10-20 ones (T7 -> T3,
T8 -> T4, P7 -> T5, P8 -> T6). Non-EEG signals (``PHOTIC-REF``, ``IBI``, ``BURSTS``, ...) are ignored.

The patient field of TUH headers reads ``<subject> <sex> <birthdate> <subject> Age:<years>``; only sex and
age are kept (no birthdate: it is PHI).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from climbflow.catalog.base import RecordError
from climbflow.config import EegStandardizeConfig

ELECTRODE = re.compile(r"^EEG\s+([A-Z0-9]+)-(REF|LE)$", re.IGNORECASE)
ALIASES = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}
UNIT_SCALE = {"UV": 1.0, "µV".upper(): 1.0, "MICROVOLT": 1.0, "MV": 1e3, "V": 1e6, "NV": 1e-3}  # -> µV
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
        refs = Counter(ref for _, ref in self.electrodes().values())
        return refs.most_common(1)[0][0] if refs else None


def electrode_name(label: str) -> tuple[str, str] | None:
    """``'EEG FP1-REF'`` -> ``('FP1', 'REF')``; None for non-EEG signals."""
    match = ELECTRODE.match(label.strip())
    if match is None:
        return None
    name = match.group(1).upper()
    return ALIASES.get(name, name), match.group(2).upper()


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


def unit_scale(unit: str, rel: str, label: str) -> float:
    """Factor to µV for an EDF physical dimension (RecordError ``bad_unit`` for anything else)."""
    scale = UNIT_SCALE.get(unit.strip().upper().replace("Μ", "U"))
    if scale is None:
        raise RecordError(
            "bad_unit", f"{rel}: signal {label!r} has physical dimension {unit!r}, not a voltage"
        )
    return scale


def read_window(root: Path, rel: str, start: float, seconds: float) -> tuple[np.ndarray, dict[str, Any]]:
    """The EEG electrodes of ``rel`` from ``start - margin`` to ``start + seconds + margin`` (clamped).

    Returns float32 ``(channels, samples)`` in µV and props: ``sampling_rate``, ``channel_names``,
    ``window_offset`` (seconds from the first returned sample to the window start), ``window_seconds`` and
    ``meta`` (reference, unit, window start). EEG signals at another rate than most of them are left out.
    RecordError: ``missing_file``, ``empty_file``, ``corrupt_edf``, ``no_eeg_channels``, ``bad_unit``,
    ``too_short`` (the window does not fit in the recording).
    """
    reader = _open(root, rel)
    try:
        labels = reader.getSignalLabels()
        rates = reader.getSampleFrequencies()
        picked = [(i, *parsed) for i, label in enumerate(labels) if (parsed := electrode_name(label))]
        names_seen: set[str] = set()
        picked = [p for p in picked if not (p[1] in names_seen or names_seen.add(p[1]))]
        if not picked:
            raise RecordError(
                "no_eeg_channels", f"{rel}: no 'EEG <electrode>-REF|LE' signal in {list(labels)}"
            )
        rate = Counter(float(rates[i]) for i, _, _ in picked).most_common(1)[0][0]
        picked = [p for p in picked if float(rates[p[0]]) == rate]
        if not math.isfinite(rate) or rate <= 0:
            raise RecordError("bad_sampling_rate", f"{rel}: EEG sampling rate {rate!r} Hz")
        duration = float(reader.getFileDuration())
        if start < 0 or start + seconds > duration + 1e-6:
            raise RecordError(
                "too_short",
                f"{rel}: window {start:.2f}-{start + seconds:.2f} s outside the {duration:.2f} s recording",
            )
        total = int(reader.getNSamples()[picked[0][0]])
        first = max(0, int(round((start - MARGIN_SECONDS) * rate)))
        last = min(total, int(round((start + seconds + MARGIN_SECONDS) * rate)))
        signal = np.empty((len(picked), last - first), dtype=np.float32)
        for row, (i, _, _) in enumerate(picked):
            scale = unit_scale(reader.getPhysicalDimension(i), rel, labels[i])
            signal[row] = reader.readSignal(i, start=first, n=last - first) * scale
        refs = Counter(ref for _, _, ref in picked)
        props = {
            "sampling_rate": rate,
            "channel_names": [name for _, name, _ in picked],
            "window_offset": start - first / rate,
            "window_seconds": float(seconds),
            "meta": {"reference": refs.most_common(1)[0][0], "window_start_s": float(start)},
        }
        return signal, props
    except RecordError:
        raise
    except Exception as exc:  # truncated data records, read errors
        raise RecordError("corrupt_edf", f"{rel}: signal unreadable ({type(exc).__name__}: {exc})") from None
    finally:
        reader.close()


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
