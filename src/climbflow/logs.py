"""Logging setup shared by the CLI and the component entry point: credentials never reach a log.

Every log record's message (and formatted traceback) passes through :func:`redact_text`, which replaces the
userinfo (``user:password@``) of any URL, e.g. an S3 or MLflow URL with inline credentials, by ``***@``.
"""

from __future__ import annotations

import logging
import os
import re

# scheme://<userinfo>@ : userinfo has no '/', '@' or whitespace (RFC 3986 userinfo, loosely)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s'\"]+@")


def redact_text(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>***@", text) if "@" in text else text


class _RedactingRecord(logging.LogRecord):
    """A log record whose rendered message has URL credentials removed (also what caplog and files see)."""

    def getMessage(self) -> str:  # noqa: N802 (logging API)
        return redact_text(super().getMessage())


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def install_redaction() -> None:
    """Make every log record created from now on redact URL credentials in its message (idempotent)."""
    if logging.getLogRecordFactory() is logging.LogRecord:
        logging.setLogRecordFactory(_RedactingRecord)
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            fmt = handler.formatter
            handler.setFormatter(
                RedactingFormatter(fmt._fmt if fmt else None, fmt.datefmt if fmt else None)  # noqa: SLF001
            )


def setup_logging(level: str | None = None) -> None:
    logging.basicConfig(
        level=(level or os.environ.get("CLIMB_LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction()
    for noisy in ("urllib3", "botocore", "s3fs", "fsspec", "alembic", "great_expectations", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
