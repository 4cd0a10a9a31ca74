"""Secret scanning: every tracked file is scanned by detect-secrets (the CI gate); anything not in the audited
baseline ``.secrets.baseline`` fails. Each baseline entry is audited (``is_secret: false``) and its file has a
reason below. Refresh after an audit with::

    detect-secrets scan $(git ls-files) --baseline .secrets.baseline && detect-secrets audit .secrets.baseline
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / ".secrets.baseline"

# file -> why its baseline findings are not secrets (the audit, reviewed by a person)
AUDITED = {
    "docs/cluster.md": "placeholder database URL (USER:PASSWORD@HOST) in a kubectl example",
    "k8s/base/secrets.yaml": "placeholder in a comment of an empty Secret template (values come from kubectl)",
    "params.yaml": "names of Secrets / Secret keys (climbflow-s3, AWS_SECRET_ACCESS_KEY), not values",
    "pipelines/compiled/promotion.yaml": "compiled pipeline: Secret names and keys mapped to env, no values",
    "pipelines/compiled/retraining.yaml": "compiled pipeline: Secret names and keys mapped to env, no values",
    "pipelines/compiled/training.yaml": "compiled pipeline: Secret names and keys mapped to env, no values",
    "src/climbflow/store/uri.py": "docstring example of a URL whose credentials redact() removes",
    "tests/integration/conftest.py": "test S3 keys generated at run time (secrets.token_hex), not literals",
    "src/climbflow/store/retry.py": "docstring example of the credential redaction of retry messages",
    "tests/unit/stages/test_faults.py": "fake credential URL of a test S3 server whose errors must be redacted",
    "tests/unit/store/test_retry.py": "fake credential URL in a simulated botocore error that must be redacted",
    "tests/unit/catalog/test_catalog_aptos.py": "APTOS image ids (hex file names) in a fixture",
    "tests/unit/catalog/test_catalog_cbis_ddsm.py": "CBIS-DDSM folder name in the real layout",
    "tests/unit/catalog/test_catalog_vindr_cxr.py": "VinDr-CXR image ids (hex) and fake MRNs in a fixture",
    "tests/unit/registry/test_lineage_render.py": "fake credential URLs the lineage renderer must redact",
    "tests/unit/store/test_store.py": "fake credential URLs that redact() must remove",
    "tests/unit/test_cli_cluster.py": "fake credential URL that the cluster CLI must redact",
    "tests/unit/registry/test_tracking_ui.py": "fake credential URL the MLflow run description must redact",
}


def _scan(files: list[str]):
    from detect_secrets import SecretsCollection
    from detect_secrets.core import baseline

    baseline.load(baseline.load_from_file(str(BASELINE)), str(BASELINE))  # the baseline's plugins/filters
    found = SecretsCollection()  # paths relative to the working directory, like the baseline
    found.scan_files(*files, num_processors=2)
    return found


@pytest.fixture(scope="module")
def tracked() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    # the baseline holds hashes of the audited findings (detect-secrets skips its own baseline too)
    return [f for f in out.splitlines() if (REPO / f).is_file() and f != BASELINE.name]


def test_baseline_is_audited_with_a_reason():
    from detect_secrets.core import baseline

    data = baseline.load_from_file(str(BASELINE))
    for path, results in data["results"].items():
        assert path in AUDITED, f"{path}: baseline finding without an audit reason in AUDITED"
        for r in results:
            assert r.get("is_secret") is False, f"{path}:{r['line_number']} {r['type']} not audited"


@pytest.mark.timeout(120)
def test_no_new_secrets_in_tracked_files(tracked, monkeypatch):
    from detect_secrets.core import baseline

    monkeypatch.chdir(REPO)
    old = baseline.load(baseline.load_from_file(str(BASELINE)), str(BASELINE))
    new = _scan(tracked) - old
    findings = [f"{path}:{s.line_number} {s.type}" for path, s in new]
    assert not findings, "new secrets (remove them, or audit and add to .secrets.baseline):\n" + "\n".join(
        findings
    )


def test_the_scanner_catches_a_planted_secret(tmp_path, monkeypatch):
    """The gate can fail: a fresh AWS-style key and a credential URL in a new file are both reported."""
    key = "AKIA" + secrets.token_hex(8).upper()
    password = secrets.token_urlsafe(12)
    planted = tmp_path / "settings.py"
    planted.write_text(
        f'AWS_ACCESS_KEY_ID = "{key}"\nMLFLOW = "https://climb:{password}@mlflow.example.org"\n'
    )
    monkeypatch.chdir(tmp_path)
    found = {s.type for _, s in _scan([planted.name])}
    assert {"AWS Access Key", "Basic Auth Credentials"} <= found
