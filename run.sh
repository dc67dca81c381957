#!/usr/bin/env bash
# Start the dashboard: `./run.sh` (any extra arguments go to `streamlit run`).
#
# Debian's python3 is "externally managed" (PEP 668): pip refuses to install into it. So the app
# lives in its own virtual environment, .venv, made on first use; requirements.txt is installed
# again only when it changed. The server prints the one-time setup token before it starts.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # A fresh Debian has python3 without its venv module (package python3-venv).
    rm -rf .venv
    if command -v apt-get >/dev/null 2>&1; then
      echo "installing Debian's python3-venv (needed for a virtual environment)"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
      "$PYTHON" -m venv .venv
    else
      echo "error: '$PYTHON -m venv' failed; install Python's venv module and run again" >&2
      exit 1
    fi
  fi
fi

requirements="${REQUIREMENTS:-requirements.txt}"
stamp=".venv/.installed-$(basename "$requirements")"
wanted="$(cat requirements.txt "$requirements" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$requirements"
  echo "$wanted" > "$stamp"
fi

if [ "${RUN_SH_INSTALL_ONLY:-}" = "1" ]; then exit 0; fi
exec .venv/bin/python -m ui.serve "$@"
