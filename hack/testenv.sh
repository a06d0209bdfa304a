#!/usr/bin/env bash
# Builds the Kubernetes test environment from the Go module proxy: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok, plus the Flux OCIRepository and
# Kustomization CRDs from the controllers' module zips. Everything lands in a cache folder
# keyed by version and is reused when present, so only the first run pays (~20 min on
# 2 cores); later runs take seconds.
#
#   hack/testenv.sh            build (or reuse) and print the folder
#   TANDEM_TESTENV=/dir ...    choose the cache folder (default ~/.cache/tandem/testenv)
#
# Tests find the folder through TANDEM_TESTENV_BIN (set by .ci/run from this script's output).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.6}
KWOK_VERSION=${KWOK_VERSION:-v0.7.0}
SOURCE_CONTROLLER_VERSION=${SOURCE_CONTROLLER_VERSION:-v1.8.5}
KUSTOMIZE_CONTROLLER_VERSION=${KUSTOMIZE_CONTROLLER_VERSION:-v1.7.3}
# The real Flux controllers (the GitOps loop tests). Newer releases need Go 1.27.
FLUX_SOURCE_VERSION=${FLUX_SOURCE_VERSION:-v1.9.6}
FLUX_KUSTOMIZE_VERSION=${FLUX_KUSTOMIZE_VERSION:-v1.9.6}

root=${TANDEM_TESTENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem/testenv}
out="$root/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
bin="$out/bin"
crds="$out/crds"
mkdir -p "$bin" "$crds"
log() { printf 'testenv: %s\n' "$*" >&2; }

minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
staging="v0.$minor.${K8S_VERSION##*.}"

build_kube() {
  local names=(kube-apiserver kube-controller-manager kube-scheduler) missing=0
  for n in "${names[@]}"; do [ -x "$bin/$n" ] || missing=1; done
  [ "$missing" = 1 ] || { log "kubernetes $K8S_VERSION: cached"; return; }
  local w="$out/src/kubernetes"
  mkdir -p "$w"
  cd "$w"
  if [ ! -f go.mod ]; then
    cat > go.mod <<MOD
module tandem.local/testenv/kubernetes

go 1.26.0

require k8s.io/kubernetes $K8S_VERSION
MOD
    local upstream
    upstream=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
    # Kubernetes points its staging modules at ./staging; the proxy serves them as versions.
    grep -E '^\s*k8s.io/[a-z0-9-]+ => ./staging/src/k8s.io/' "$upstream" \
      | sed -E "s#^\s*(k8s.io/[a-z0-9-]+) => .*#replace \1 => \1 $staging#" >> go.mod
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
    go mod tidy
  fi
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  for n in "${names[@]}"; do
    [ -x "$bin/$n" ] && continue
    log "building $n $K8S_VERSION (first time: minutes)"
    go build -trimpath -ldflags="$ld" -o "$bin/$n.tmp" "k8s.io/kubernetes/cmd/$n"
    mv "$bin/$n.tmp" "$bin/$n"
  done
}

build_etcd() {
  [ -x "$bin/etcd" ] && { log "etcd $ETCD_VERSION: cached"; return; }
  local w="$out/src/etcd"
  mkdir -p "$w"
  cd "$w"
  if [ ! -f go.mod ]; then
    printf 'module tandem.local/testenv/etcd\n\ngo 1.26.0\n' > go.mod
    cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go mod tidy
  fi
  log "building etcd $ETCD_VERSION"
  go build -trimpath -ldflags="-s -w" -o "$bin/etcd.tmp" .
  mv "$bin/etcd.tmp" "$bin/etcd"
}

build_kwok() {
  [ -x "$bin/kwok" ] && { log "kwok $KWOK_VERSION: cached"; return; }
  log "building kwok $KWOK_VERSION"
  GOBIN="$bin" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}

fetch_crds() {
  local f
  f="$crds/source.toolkit.fluxcd.io_ocirepositories.yaml"
  if [ ! -s "$f" ]; then
    local dir
    dir=$(cd "$out" && go mod download -json "github.com/fluxcd/source-controller@$SOURCE_CONTROLLER_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
    cp "$dir/config/crd/bases/$(basename "$f")" "$f"
  fi
  f="$crds/kustomize.toolkit.fluxcd.io_kustomizations.yaml"
  if [ ! -s "$f" ]; then
    local dir
    dir=$(cd "$out" && go mod download -json "github.com/fluxcd/kustomize-controller@$KUSTOMIZE_CONTROLLER_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
    cp "$dir/config/crd/bases/$(basename "$f")" "$f"
  fi
  chmod 0644 "$crds"/*.yaml
}

# build_flux builds source-controller and kustomize-controller from their module zips
# into $out/flux-<versions>/bin, with all their CRDs in .../crds. The zips lack the ./api
# folders their go.mod replaces, so the api modules come from the proxy instead.
build_flux() {
  local fdir="$out/flux-source-$FLUX_SOURCE_VERSION-kustomize-$FLUX_KUSTOMIZE_VERSION"
  mkdir -p "$fdir/bin" "$fdir/crds" "$fdir/src"
  local name version mod dir w
  for name in source-controller kustomize-controller; do
    version=$FLUX_SOURCE_VERSION
    [ "$name" = kustomize-controller ] && version=$FLUX_KUSTOMIZE_VERSION
    mod="github.com/fluxcd/$name"
    dir=$(cd "$out" && go mod download -json "$mod@$version" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
    cp "$dir"/config/crd/bases/*.yaml "$fdir/crds/"
    if [ -x "$fdir/bin/$name" ]; then log "$name $version: cached"; continue; fi
    w="$fdir/src/$name"
    rm -rf "$w" && cp -r "$dir" "$w" && chmod -R u+w "$w"
    (
      cd "$w"
      go mod edit -dropreplace "$mod/api"
      # fluxcd/pkg/artifact v0.18.3 (source-controller's) is refused by the proxy.
      [ "$name" = source-controller ] && go mod edit -replace github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v0.18.0
      go mod tidy -e >/dev/null 2>&1 || true
      log "building $name $version (first time: minutes)"
      go build -trimpath -ldflags="-s -w" -o "$fdir/bin/$name.tmp" .
    )
    mv "$fdir/bin/$name.tmp" "$fdir/bin/$name"
  done
  chmod 0644 "$fdir"/crds/*.yaml
}

start=$(date +%s)
fetch_crds
build_etcd
build_kube
build_kwok
[ "${TANDEM_TESTENV_FLUX:-1}" = 0 ] || build_flux
log "ready in $(( $(date +%s) - start ))s: $out"
echo "$out"
