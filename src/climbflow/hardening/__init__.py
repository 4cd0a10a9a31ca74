"""Hardening checks: the bad-input corpus (:mod:`.badinput`) and the DICOM PHI report (:mod:`.phi_report`).

A self-check tool (``climb doctor``), not part of the runtime path: the stages, ``climbflow.train`` and the
registry never import it; only ``cli.py`` (``climb doctor bad-input`` / ``climb doctor phi``) does, lazily.
"""
