# Shared set-up for scripts/build-book, scripts/test and scripts/execute-notebooks (sourced, not run).
#
# Creates ./.venv with Python >= 3.11, installs the pinned requirements.txt and the library
# (`pip install -e .`). Idempotent and fast: a stamp in .venv records a hash of requirements.txt and
# pyproject.toml, and pip is only called when they changed, when the venv is new, or when the
# editable install does not point at this checkout (a moved or re-cloned folder).
#
# After sourcing: ROOT (the repository root), VENV, VPY (the venv's python); cwd is ROOT.
# Override the interpreter used to create the venv with PYTHON=/path/to/python3.11.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
VPY="$VENV/bin/python"
cd "$ROOT"

_setup_log() { printf '[setup] %s\n' "$*" >&2; }

_find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

_setup_stamp() {
    # What the venv was built from: requirements, packaging metadata and the interpreter version.
    { cat requirements.txt pyproject.toml; "$VPY" -c 'import sys; print(sys.version)'; } \
        | "$VPY" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())'
}

_editable_points_here() {
    # find_spec locates the package without importing it (and so without importing torch).
    "$VPY" - "$ROOT" <<'EOF' 2>/dev/null
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("mobilenet_lib")
root = pathlib.Path(sys.argv[1]).resolve()
sys.exit(0 if spec and spec.origin and pathlib.Path(spec.origin).resolve().is_relative_to(root) else 1)
EOF
}

if [ ! -x "$VPY" ]; then
    py="$(_find_python)" || {
        _setup_log "Python >= 3.11 is required (set PYTHON=/path/to/python3.11)"
        exit 1
    }
    _setup_log "creating .venv with $py ($("$py" --version 2>&1))"
    "$py" -m venv "$VENV"
fi

_stamp_file="$VENV/.mobilenet-setup-stamp"
_want="$(_setup_stamp)"
if [ "$(cat "$_stamp_file" 2>/dev/null)" != "$_want" ] || ! _editable_points_here; then
    _setup_log "installing requirements.txt into .venv (first run or requirements changed)"
    "$VPY" -m pip install --quiet -r requirements.txt
    _setup_log "installing mobilenet_lib in editable mode"
    "$VPY" -m pip install --quiet --no-deps -e .
    echo "$_want" >"$_stamp_file"
    _setup_log ".venv ready"
else
    _setup_log ".venv is up to date"
fi
unset _stamp_file _want
