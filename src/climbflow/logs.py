"""Logging setup shared by the CLI and the component entry point: credentials never reach a log.

Every log record's message (and formatted traceback) passes through :func:`redact_text`, which replaces the
userinfo (``user:password@``) of any URL, e.g. an S3 or MLflow URL with inline credentials, by ``***@``.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

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


@contextlib.contextmanager
def quiet_libraries(keep: Path | None = None):
    """Keep libraries' chatter off the terminal while a command does its work: C-level writes to fd 1 / 2 (e.g.
    pyedflib's ``filesize ... != ...``), Python warnings, and stderr (library log records). The command's own
    ``print`` / ``typer.echo`` output still shows. The chatter goes to ``keep`` if given, else is dropped; a
    one-line count of it goes to stderr, so nothing is hidden without a trace."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    sys.stderr.flush()
    libc.fflush(None)
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[1]), "w") if _writes_to_fd(sys.stdout, 1) else None
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        library_err = os.fdopen(os.dup(sink.fileno()), "w")  # sys.stderr may be no fd (a test's capture)
        try:
            with (
                contextlib.redirect_stderr(library_err),
                contextlib.redirect_stdout(terminal) if terminal else contextlib.nullcontext(),
            ):
                yield
        finally:
            library_err.close()
            sys.stdout.flush()
            sys.stderr.flush()
            libc.fflush(None)
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            if terminal:
                terminal.close()
            sink.seek(0)
            chatter = sink.read().decode(errors="replace").rstrip("\n")
            chatter = chatter + "\n" if chatter else ""
            chatter += "".join(
                warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught
            )
            if chatter.strip():
                if keep is not None:
                    keep.parent.mkdir(parents=True, exist_ok=True)
                    keep.write_text(chatter)
                n = len(chatter.splitlines())
                where = f": {keep}" if keep is not None else ""
                sys.stderr.write(f"({n} lines of library output and warnings hidden{where})\n")


def _writes_to_fd(stream, fd: int) -> bool:
    try:
        return stream.fileno() == fd
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False
