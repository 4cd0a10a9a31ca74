"""Deterministic patient-level splits: a seeded hash of a patient key, so a patient is in exactly one split.

The key is the record's ``split_key`` when it has one, else its ``patient_id``. A dataset whose
``patient_id`` is a salted pseudonym (DICOM: the salt is per workspace) gives a salt-free ``split_key``
(:func:`split_key` of the source identity), so the same data and seed split the same way in every workspace
and on every machine. The split key lives in memory only; it is never written to a store.
"""

from __future__ import annotations

import hashlib


def unit_hash(seed: int, key: str) -> float:
    """A number in [0, 1) from (seed, key), stable across machines and Python versions."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_key(identity: str) -> str:
    """A salt-free, non-clear key for a source patient identity (e.g. ``PatientID:MRN1001``)."""
    return hashlib.sha256(f"climbflow-split-key\0{identity}".encode()).hexdigest()


def patient_split(key: str, seed: int, val_fraction: float, test_fraction: float) -> str:
    """``train`` / ``val`` / ``test`` of a patient key (a function of the key and the seed only)."""
    u = unit_hash(seed, key)
    if u < test_fraction:
        return "test"
    if u < test_fraction + val_fraction:
        return "val"
    return "train"
