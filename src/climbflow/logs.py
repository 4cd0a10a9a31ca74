"""Logging setup shared by the CLI and the component entry point (secrets never reach the log format)."""

from __future__ import annotations

import logging
import os


def setup_logging(level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or os.environ.get("CLIMB_LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("urllib3", "botocore", "s3fs", "fsspec", "alembic", "great_expectations", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
