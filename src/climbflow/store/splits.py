"""Deterministic patient-level splits: a seeded hash of patient_id, so a patient is in exactly one split."""

from __future__ import annotations

import hashlib


def unit_hash(seed: int, key: str) -> float:
    """A number in [0, 1) from (seed, key), stable across machines and Python versions."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def patient_split(patient_id: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    u = unit_hash(seed, patient_id)
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"
