"""`climb doctor`: the report comes first and alone; the readers' libraries' complaints stay off the terminal."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import warnings

from climbflow.logs import quiet_libraries


def test_doctor_bad_input_prints_only_its_report(tmp_path):
    """pyedflib prints 'filesize ... != ...' from C and pydicom warns about 'inf' on the corpus, by design."""
    log = tmp_path / "library.log"
    result = subprocess.run(
        [sys.executable, "-m", "climbflow.cli", "doctor", "bad-input", "--library-log", str(log)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("bad-input corpus: caught "), result.stdout[:300]
    assert "filesize" not in result.stdout + result.stderr
    assert "UserWarning" not in result.stdout + result.stderr
    assert "library output and warnings hidden" in result.stderr  # counted, not silently dropped
    kept = log.read_text()
    assert "filesize" in kept and "Invalid value for VR DS" in kept


def test_quiet_libraries_keeps_the_commands_own_output(tmp_path, capfd):
    libc = ctypes.CDLL(None)
    with quiet_libraries(tmp_path / "lib.log"):
        libc.printf(b"C-level chatter\n")
        warnings.warn("a library warning", UserWarning, stacklevel=1)
        print("a library log record", file=sys.stderr)
        print("the table")
    out, err = capfd.readouterr()
    assert "the table" in out and "chatter" not in out + err and "a library warning" not in err
    assert "library output and warnings hidden" in err and "log record" not in err
    kept = (tmp_path / "lib.log").read_text()
    assert "C-level chatter" in kept and "a library warning" in kept and "a library log record" in kept


def test_doctor_phi_prints_no_pydicom_warning_before_its_report(tmp_path):
    """A corpus file carries DS 'inf' on purpose; pydicom's UserWarning about it went to the terminal first."""
    log = tmp_path / "library.log"
    result = subprocess.run(
        [sys.executable, "-m", "climbflow.cli", "doctor", "phi", "--library-log", str(log)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode in (0, 1), result.stderr  # 1: PHI survived (the report says which)
    assert "UserWarning" not in result.stdout + result.stderr
    assert result.stdout.strip(), "the report itself is printed"
    assert "Invalid value for VR DS" in log.read_text()
