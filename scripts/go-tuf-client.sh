#!/usr/bin/env bash
# Builds the go-tuf client of the interoperability tests (test/interop/go-tuf/, a second TUF
# implementation, independent of ours and of python-tuf) into .cache/go-tuf/go-tuf-client.
# Modules come from the Go module proxy, pinned by test/interop/go-tuf/go.sum. Idempotent: rebuilt
# only when the sources or the Go version changed (stamp file). Run by .ci/run; developers run it
# (`npm run go-tuf`) to have test/interop/go-tuf-client.test.ts run instead of skip.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || { echo "go-tuf-client: go not found (install Go 1.25 or later)" >&2; exit 1; }
src=test/interop/go-tuf
out=.cache/go-tuf
stamp="$( (cat "$src/go.mod" "$src/go.sum" "$src/main.go"; go version) | sha256sum | cut -d' ' -f1)"
if [ -x "$out/go-tuf-client" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "go-tuf-client: $out/go-tuf-client is up to date"
  exit 0
fi
start=$SECONDS
mkdir -p "$out"
(cd "$src" && GOFLAGS=-mod=readonly go build -o "../../../$out/go-tuf-client" .)
echo "$stamp" >"$out/.stamp"
echo "go-tuf-client: built $out/go-tuf-client in $((SECONDS - start)) s"
