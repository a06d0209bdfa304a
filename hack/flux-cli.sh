#!/usr/bin/env bash
# Builds the real flux CLI from the Go module proxy into a cache folder: the baseline of
# bench/run.sh (the write-up's `flux push artifact`). Reused when present; the first build
# takes about 9 minutes on 2 cores.
#
#   hack/flux-cli.sh            build (or reuse) and print the binary's path
#   FLUX_VERSION=v2.9.5         the version (newer releases need Go 1.27)
#
# The module zip lacks the generated cmd/flux/manifests/*.yaml that flux embeds, so a
# placeholder is added: `flux install` and `--export` do not work in this build; push,
# pull and diff of artifacts (all the benchmarks use) do.
set -euo pipefail
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
FLUX_VERSION=${FLUX_VERSION:-v2.9.5}
out=${TANDEM_FLUX_CLI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem/flux-cli}
bin="$out/flux"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "${FLUX_VERSION#v}"; then
  echo "$bin"; exit 0
fi
work="$out/build-$FLUX_VERSION"
rm -rf "$work" && mkdir -p "$work"
cd "$work"
src=$(go mod download -json "github.com/fluxcd/flux2/v2@$FLUX_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
cp -r "$src" flux2-src && chmod -R u+w flux2-src
mkdir -p flux2-src/cmd/flux/manifests && echo "# placeholder" > flux2-src/cmd/flux/manifests/placeholder.yaml
go mod init tandem.local/tools/fluxcli >/dev/null 2>&1
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/fluxcd/flux2/v2/cmd/flux"\n' > tools.go
go mod edit -require "github.com/fluxcd/flux2/v2@$FLUX_VERSION" -replace github.com/fluxcd/flux2/v2=./flux2-src \
  -replace gopkg.in/yaml.v3=gopkg.in/yaml.v3@v3.0.1
go mod tidy >&2
go build -ldflags "-X main.VERSION=${FLUX_VERSION#v}" -o "$bin" github.com/fluxcd/flux2/v2/cmd/flux
cd "$out" && rm -rf "$work"
echo "$bin"
