"""Evaluation: CLIMB-faithful classification metrics (``metrics``) and report writing (``report``)."""
