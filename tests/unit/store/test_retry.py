"""Bounded retries with exponential backoff: what is retried, the schedule, the final message."""

from __future__ import annotations

import errno

import pytest

from climbflow.store.retry import RetryPolicy, StorageUnavailable, is_transient, redact_text, retry_call


class EndpointConnectionError(Exception):  # named like botocore's: classified by class name
    pass


def test_schedule_doubles_up_to_the_cap_and_reads_env(monkeypatch):
    assert RetryPolicy(6, 0.5, 8).delays() == [0.5, 1, 2, 4, 8]
    assert RetryPolicy(4, 1, 2.5).delays() == [1, 2, 2.5]
    monkeypatch.setenv("CLIMB_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("CLIMB_RETRY_BASE_S", "0.1")
    assert RetryPolicy.from_env().delays() == [0.1, 0.2]


def test_transient_errors_are_told_apart():
    assert is_transient(ConnectionRefusedError(errno.ECONNREFUSED, "refused"))
    assert is_transient(EndpointConnectionError("could not connect"))
    wrapped = RuntimeError("upload failed")
    wrapped.__cause__ = TimeoutError("read timed out")
    assert is_transient(wrapped)
    throttled = Exception("slow down")
    throttled.response = {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}
    assert is_transient(throttled)
    denied = Exception("denied")
    denied.response = {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    assert not is_transient(denied)
    assert not is_transient(FileNotFoundError("s3://b/k"))
    assert not is_transient(OSError(errno.ENOSPC, "No space left on device"))


def test_retries_with_backoff_then_succeeds():
    waits, calls, cleanups = [], [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError(errno.ECONNRESET, "reset")
        return "ok"

    out = retry_call(
        flaky,
        what="upload",
        policy=RetryPolicy(5, 0.5, 8),
        sleep=waits.append,
        on_retry=lambda: cleanups.append(1),
    )
    assert out == "ok" and waits == [0.5, 1.0] and len(cleanups) == 2


def test_gives_up_with_endpoint_named_and_credentials_redacted():
    waits = []

    def down() -> None:
        raise EndpointConnectionError('Could not connect to "http://key:secret@127.0.0.1:9/b"')

    with pytest.raises(StorageUnavailable) as err:
        retry_call(
            down,
            what="dvc push",
            endpoint="https://key:secret@s3.example:9000",
            policy=RetryPolicy(3, 0.1, 1),
            sleep=waits.append,
        )
    message = str(err.value)
    assert waits == [0.1, 0.2] and "unreachable after 3 attempts" in message
    assert "https://***@s3.example:9000" in message and "secret" not in message and "dvc push" in message


def test_permanent_errors_are_not_retried():
    waits = []
    with pytest.raises(PermissionError):
        retry_call(lambda: (_ for _ in ()).throw(PermissionError("denied")), what="x", sleep=waits.append)
    assert waits == []
    assert redact_text("see s3://AKIA:abc@bucket/k and http://h/x") == "see s3://***@bucket/k and http://h/x"
