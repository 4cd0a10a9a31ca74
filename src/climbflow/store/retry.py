"""Bounded retries with exponential backoff for storage calls (S3 publish/materialize, DVC push/pull).

Only transient failures are retried (connection refused/reset, timeouts, 5xx / throttling answers, DVC's
"N files failed to upload/download"); anything else (missing object, access denied, disk full) is raised at
once. When the attempts are spent the call fails with :class:`StorageUnavailable`, whose message names the
operation and the endpoint (credentials redacted) and the last error. Settings (env, read at each call):

- ``CLIMB_RETRY_ATTEMPTS`` (default 6): attempts in all, 1 = no retry;
- ``CLIMB_RETRY_BASE_S`` (default 0.5): first wait; each further wait doubles;
- ``CLIMB_RETRY_MAX_S`` (default 8): cap of one wait. Default schedule: 0.5, 1, 2, 4, 8 s (15.5 s in all).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS_ENV = "CLIMB_RETRY_ATTEMPTS"
BASE_ENV = "CLIMB_RETRY_BASE_S"
MAX_ENV = "CLIMB_RETRY_MAX_S"

_TRANSIENT_ERRNO = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.ETIMEDOUT,
    errno.EPIPE,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
}
_TRANSIENT_NAMES = {
    # botocore / aiobotocore / aiohttp / urllib3 / fsspec / DVC, matched by class name (no hard imports)
    "EndpointConnectionError",
    "ConnectionClosedError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "HTTPClientError",
    "ProxyConnectionError",
    "ClientConnectorError",
    "ClientConnectionError",
    "ServerDisconnectedError",
    "ClientPayloadError",
    "ClientOSError",
    "IncompleteRead",
    "ResponseParserError",
    "FSTimeoutError",
    "ProtocolError",
    "UploadError",  # dvc push: "N files failed to upload"
    "DownloadError",  # dvc pull: "N files failed to download"
}
_TRANSIENT_CODES = {
    "500",
    "502",
    "503",
    "504",
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
}
_CREDENTIALS = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


class StorageUnavailable(RuntimeError):
    """A storage endpoint stayed unreachable for every retry; the message says which and what failed."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base: float = 0.5
    cap: float = 8.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(
            max(1, int(os.environ.get(ATTEMPTS_ENV, cls.attempts))),
            max(0.0, float(os.environ.get(BASE_ENV, cls.base))),
            max(0.0, float(os.environ.get(MAX_ENV, cls.cap))),
        )

    def delays(self) -> list[float]:
        """The waits between attempts (no jitter: deterministic and testable)."""
        return [min(self.cap, self.base * 2**i) for i in range(self.attempts - 1)]


def redact_text(text: str) -> str:
    """Replace credentials in every URL of ``text`` (``scheme://user:secret@host`` -> ``scheme://***@host``)."""
    return _CREDENTIALS.sub(r"\1***@", text)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 20:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from) looks like an outage worth retrying."""
    for err in _chain(exc):
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            return False
        if isinstance(err, (ConnectionError, TimeoutError)):
            return True
        if isinstance(err, OSError) and err.errno in _TRANSIENT_ERRNO:
            return True
        if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(err).__mro__):
            return True
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if code in _TRANSIENT_CODES or status in _TRANSIENT_CODES:
                return True
    return False


def retry_call(
    fn: Callable[[], T],
    *,
    what: str,
    endpoint: str | None = None,
    policy: RetryPolicy | None = None,
    on_retry: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``fn()``, retried with exponential backoff on transient errors; ``on_retry`` runs before each retry
    (e.g. to drop a stale listing cache or a partial download)."""
    policy = policy or RetryPolicy.from_env()
    delays = policy.delays()
    start = time.monotonic()
    where = f" at {redact_text(endpoint)}" if endpoint else ""
    for attempt in range(policy.attempts):
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            last = f"{type(exc).__name__}: {redact_text(str(exc))[:500]}"
            if attempt == len(delays):
                raise StorageUnavailable(
                    f"{what}: storage{where} unreachable after {policy.attempts} attempts over "
                    f"{time.monotonic() - start:.1f} s (last error: {last}); check that the endpoint is up "
                    f"and reachable, or raise {ATTEMPTS_ENV}/{MAX_ENV}"
                ) from exc
            log.warning(
                "%s%s failed (%s); retry %d/%d in %.1f s",
                what,
                where,
                last,
                attempt + 1,
                len(delays),
                delays[attempt],
            )
            sleep(delays[attempt])
            if on_retry is not None:
                on_retry()
    raise AssertionError("unreachable")  # pragma: no cover
