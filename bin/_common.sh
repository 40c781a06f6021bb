# Shared by bin/run and bin/test: find or install uv, then sync the locked environment.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if command -v uv >/dev/null 2>&1; then
  UV=(uv)
elif python3 -m uv --version >/dev/null 2>&1; then
  UV=(python3 -m uv)
else
  echo "==> installing uv from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check uv
  UV=(python3 -m uv)
fi
export UV_PYTHON_DOWNLOADS=never

sync_env() {
  echo "==> syncing the locked environment (.venv)"
  "${UV[@]}" sync --frozen --quiet "$@"
}

py() { .venv/bin/python "$@"; }
