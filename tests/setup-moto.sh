#!/usr/bin/env bash
# Creates the project-local Python venv with the pinned EC2 emulator (moto's server) that the
# integration tests start. Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_VERSION="5.2.5"
VENV="${AWSNYCAST_VENV:-$PWD/.venv}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/moto_server" ] && "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO_VERSION')" 2>/dev/null; then
  echo "moto $MOTO_VERSION is ready in $VENV"
  exit 0
fi
if ! "$PYTHON" -c "import venv, ensurepip" 2>/dev/null; then
  echo "python3 with venv and ensurepip is needed; installing python3-venv" >&2
  if command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  fi
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
echo "moto $MOTO_VERSION installed in $VENV"
