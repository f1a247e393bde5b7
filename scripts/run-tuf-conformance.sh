#!/usr/bin/env bash
# Runs the upstream TUF conformance suite (theupdateframework/tuf-conformance, a third-party suite
# kept OUT of this repository) against bin/tuf-conformance. Give it a checkout of the suite; it makes
# a venv inside that checkout (the suite's own pyproject dependencies from PyPI) and runs pytest
# single-process, with the suite's own options. Needs python3 (3.11+) and faketime (the expiry tests
# run the client under it: `apt-get install faketime`). Extra arguments go to pytest.
# Usage: scripts/run-tuf-conformance.sh SUITE_DIR [pytest args...]
#   e.g. git clone https://github.com/theupdateframework/tuf-conformance /tmp/tuf-conformance
#        scripts/run-tuf-conformance.sh /tmp/tuf-conformance -q
# Exit code: pytest's (0 when every test passed or failed as expected).
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
suite="$(cd "$1" && pwd)"
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -d "$suite/tuf_conformance" ] || { echo "run-tuf-conformance: $suite has no tuf_conformance/ folder" >&2; exit 2; }
command -v faketime >/dev/null || { echo "run-tuf-conformance: faketime not found (apt-get install faketime)" >&2; exit 2; }
PYTHON="${PYTHON:-python3}"
venv="$suite/.venv-notsotuf"
if [ ! -x "$venv/bin/pytest" ]; then
  "$PYTHON" -m venv "$venv"
  if [ -f "$suite/pyproject.toml" ] && grep -q '^\[project\]' "$suite/pyproject.toml"; then
    "$venv/bin/pip" install -q -e "$suite"
  else
    # a rebuilt copy without packaging: the dependencies the suite's pyproject names
    "$venv/bin/pip" install -q 'securesystemslib[crypto]' tuf pytest
  fi
fi
cd "$suite"
exec "$venv/bin/pytest" tuf_conformance -p no:cacheprovider --entrypoint "$root/bin/tuf-conformance" "$@"
