"""Hardening checks: the bad-input corpus (:mod:`.badinput`) and the DICOM PHI report (:mod:`.phi_report`)."""
