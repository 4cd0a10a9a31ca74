"""Data validation of an indexed dataset before it is written to the store.

:func:`climbflow.validate.suites.validate_dataset` runs Great Expectations suites on the index records and on
the decoded sample records, adds the checks GX cannot express (patient leakage across splits, quarantine
fraction), builds Data Docs and writes a deterministic ``validation.json`` and a human ``summary.md``.
All Great Expectations specifics live in :mod:`climbflow.validate.suites`.
"""
