"""Physical units of signal channels (WFDB header ``units``, EDF physical dimension) -> the modality's unit.

Only voltages are accepted: ``V``, ``mV``, ``uV`` (also ``µV`` U+00B5, ``μV`` U+03BC, ``microvolt``; any case)
and ``nV``. Any other unit is refused with rule ``bad_unit`` naming the file, the signal and the unit.

Blank unit policy: a blank unit is read as the unit the dataset documents (``default``: mV for WFDB, whose
header spec makes mV the default; µV for TUH EDF) and the record's meta says so (``unit_assumed: True``).
The meta always keeps the source unit(s) as written (``source_unit``, comma-joined when the signals differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from climbflow.catalog.base import RecordError

SIGNAL_VERSION = "signal-1"  # bump when a WFDB/EDF decoder's output changes (units, rates, channel names)
WFDB_DEFAULT_UNIT = "mV"  # the WFDB header spec's unit for a signal line without one
VOLTS: dict[str, float] = {"V": 1.0, "mV": 1e-3, "uV": 1e-6, "nV": 1e-9}
SPELLINGS: dict[str, str] = {
    "V": "V", "VOLT": "V", "VOLTS": "V",
    "MV": "mV", "MILLIVOLT": "mV", "MILLIVOLTS": "mV",
    "UV": "uV", "MICROVOLT": "uV", "MICROVOLTS": "uV",
    "NV": "nV", "NANOVOLT": "nV", "NANOVOLTS": "nV",
}  # fmt: skip


def canonical(unit: str) -> str | None:
    """``'μV'``/``'µV'``/``'UV'`` -> ``'uV'``, ``'MV'`` -> ``'mV'``...; None if not a voltage."""
    key = unit.strip().replace("\u00b5", "u").replace("\u03bc", "u").upper()
    return SPELLINGS.get(key)


def conversion(
    units: Sequence[str], labels: Sequence[str], target: str, default: str, where: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-signal factors from ``units`` to ``target`` and the meta to keep: ``source_unit``, ``unit_assumed``.

    RecordError ``bad_unit`` for a unit that is not a voltage (see the module docstring for blanks).
    """
    factors, written = [], []
    for unit, label in zip(units, labels, strict=True):
        name = canonical(unit.strip() or default)
        if name is None:
            raise RecordError(
                "bad_unit", f"{where}: signal {label!r} has unit {unit!r}, not a voltage ({', '.join(VOLTS)})"
            )
        factors.append(VOLTS[name] / VOLTS[target])
        written.append(unit.strip() or default)
    assumed = any(not u.strip() for u in units)
    meta = {"source_unit": ",".join(dict.fromkeys(written)), "unit_assumed": assumed}
    return np.asarray(factors), meta


def wfdb_header_units(path: Path, n_sig: int) -> list[str]:
    """The units of the first ``n_sig`` signal lines of a WFDB header as written ('' where absent).

    Read here, not from wfdb: wfdb decodes headers as ASCII dropping other bytes (``μV`` becomes ``V``) and
    fills an absent unit with ``mV``.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    units = []
    for line in lines[1 : 1 + n_sig]:
        fields = line.split()
        gain = fields[2] if len(fields) > 2 else ""
        units.append(gain.split("/", 1)[1] if "/" in gain else "")
    return units
