#!/usr/bin/env bash
# One Python virtual environment per requirements file: python/requirements/<name>.txt ->
# .venv/<name>/ (python3 -m venv, then pip install -r). Idempotent and quick when done already: a
# venv is rebuilt only when its requirements file or the python3 it was made with changed (stamp
# file .venv/<name>/.requirements.sha256). Run by .ci/run; developers run it too
# (`npm run venvs`) to have the Python tests run instead of skip (test/helpers/python.ts).
# Usage: scripts/python-venvs.sh [name ...]   (default: every requirements file)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || { echo "python-venvs: $PYTHON not found (install Python 3.9 or later)" >&2; exit 1; }

names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
  for f in python/requirements/*.txt; do
    [ -e "$f" ] || continue
    n="$(basename "$f" .txt)"
    names+=("$n")
  done
fi

for name in "${names[@]}"; do
  req="python/requirements/$name.txt"
  [ -f "$req" ] || { echo "python-venvs: no $req" >&2; exit 1; }
  venv=".venv/$name"
  stamp="$( (cat "$req"; "$PYTHON" -c 'import sys; print(sys.version, sys.executable)') | sha256sum | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$stamp" ]; then
    echo "python-venvs: $venv is up to date"
    continue
  fi
  start=$SECONDS
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req"
  echo "$stamp" >"$venv/.requirements.sha256"
  echo "python-venvs: made $venv in $((SECONDS - start)) s"
done
