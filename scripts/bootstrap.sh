#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv. Idempotent: a stamp of pyproject.toml's hash
# skips the install when nothing changed. torch's CPU wheel is installed first (see pyproject.toml's comment).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CLIMB_VENV:-$ROOT/.venv}"
STAMP="$VENV/.climbflow-stamp"
WANT="$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  exit 0
fi
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
echo "climbflow: setting up $VENV (first run takes a few minutes)..." >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
quiet "$VENV/bin/python" -m pip install -q torch==2.13.0
quiet "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"
echo "$WANT" > "$STAMP"
