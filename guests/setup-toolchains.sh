#!/usr/bin/env bash
# Installs every guest toolchain from the package registries, at the
# versions the SDKs pin, into the checkout (nothing global but the rustup
# target):
#   - the Rust target wasm32-wasip2;
#   - guests/js/node_modules: componentize-js and esbuild, from
#     guests/js/package-lock.json (`npm ci`);
#   - guests/python/.venv: componentize-py, from guests/python/pyproject.toml.
# Safe to run again: steps whose result is already there are skipped.
set -euo pipefail
cd "$(dirname "$0")"

rustup target add wasm32-wasip2

need() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "error: $1 is not installed; $2" >&2
        exit 1
    }
}

need node "install Node.js 20 or later (Debian: apt-get install nodejs npm)"
need npm "install npm (Debian: apt-get install npm)"
# npm ci wipes and reinstalls; skip it while the lock file is unchanged
# since the last install.
if [ ! -f js/node_modules/.package-lock.json ] ||
    [ js/package-lock.json -nt js/node_modules/.package-lock.json ]; then
    npm ci --prefix js --no-audit --no-fund
fi

need python3 "install Python 3.10 or later (Debian: apt-get install python3 python3-venv)"
if [ ! -x python/.venv/bin/python ]; then
    python3 -m venv python/.venv
fi
if ! python/.venv/bin/python -c 'import wasmudf_guest, componentize_py' 2>/dev/null ||
    [ python/pyproject.toml -nt python/.venv/.installed ]; then
    python/.venv/bin/pip install --quiet -e python
    touch python/.venv/.installed
fi
