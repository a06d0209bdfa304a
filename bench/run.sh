#!/usr/bin/env bash
# Benchmarks tandem against what users would otherwise run, side by side in one run, on
# the same loopback registry and git server (bench/env). Prints Markdown tables; the
# figures of a run are kept in BENCHMARKS.md. Not part of the unit tests.
#
#   bash bench/run.sh            # runs 5 repetitions each (RUNS=...)
#   bash bench/run.sh --smoke    # one run, small sizes, < 60 s: checks every row yields a figure
#                                # (.ci/run runs it, so a broken benchmark fails CI)
#   FLUX=/path/to/flux bash bench/run.sh
#   BENCH_COLD=0 WAIT_PODS=50 WAIT_WINDOW=30s KUBECTL=/path/to/kubectl bash bench/run.sh
#
# The waiter rows need the Kubernetes test environment (hack/testenv.sh, built on first use
# unless TANDEM_TESTENV_DIR names it).
#
# The flux CLI (the write-up's shell baseline) is built once by hack/flux-cli.sh into
# ~/.cache/tandem/flux-cli (about 9 minutes); without it the flux rows are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
SMOKE=0
if [ "${1:-}" = --smoke ] && [ -z "${BENCH_SMOKE_RUN:-}" ]; then
  # Run the smoke, then check every table row has a figure in each cell.
  out=$(mktemp)
  BENCH_SMOKE_RUN=1 bash "$0" --smoke | tee "$out"
  rc=${PIPESTATUS[0]}
  # A row fails when its first figure is missing, a cell says failed, or (in a table with
  # an exit column) its exit code is not 0.
  bad=$(awk -F'|' '/^\| (what|files|command|phase|waiter) \|/ {exitcol = ($0 ~ /\| exit \|$/); next}
    /^\|---/ {next}
    /^\| / {c = $3; gsub(/ /, "", c); e = $(NF-1); gsub(/ /, "", e)
      if (c == "" || $0 ~ /failed/ || (exitcol && e != "0")) print}' "$out")
  rm -f "$out"
  if [ "$rc" != 0 ] || [ -n "$bad" ]; then
    echo "bench smoke failed (exit $rc); rows without a figure:" >&2
    echo "$bad" >&2
    exit 1
  fi
  echo "bench smoke: every row has a figure"
  exit 0
fi
if [ "${1:-}" = --smoke ]; then
  # One run of everything at small sizes; the cold builds, the flux CLI and a kubectl not
  # already built are left out. The figures mean nothing; that each row has one does.
  SMOKE=1 RUNS=1 BENCH_COLD=0 WAIT_PODS=${WAIT_PODS:-3} WAIT_WINDOW=${WAIT_WINDOW:-8s} FLUX=${FLUX:-none}
fi
RUNS=${RUNS:-5}
FLUX=${FLUX:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem/flux-cli/flux}
[ -x "$FLUX" ] || { echo "note: flux CLI not found at $FLUX; flux rows skipped" >&2; FLUX=""; }
ART_SIZES="10 1000 10000" BIG_COMMITS=10000 BIG_FILES=5000
[ "$SMOKE" = 1 ] && ART_SIZES="10 100" BIG_COMMITS=200 BIG_FILES=100

work=$(mktemp -d)
trap 'kill $envpid 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/tandem" ./cmd/tandem
# the waiter as its image holds it (static, stripped: image.BuildGo's flags)
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -buildid=" -o "$work/tandem-wait" ./cmd/tandem-wait
# the machine's floor for a Go process: an empty program
mkdir -p "$work/empty" && printf 'package main\n\nfunc main() {}\n' > "$work/empty/main.go" && (cd "$work/empty" && GOFLAGS=-mod=mod go mod init empty >/dev/null 2>&1; go build -o "$work/empty-go" .)
go build -o "$work/env" ./bench/env
mkdir -p "$work/git"
"$work/env" -root "$work/git" > "$work/env.out" &
envpid=$!
for _ in $(seq 100); do grep -q GIT_TOKEN "$work/env.out" 2>/dev/null && break; sleep 0.1; done
# shellcheck disable=SC1090
source "$work/env.out"
export TANDEM_GIT_TOKEN=$GIT_TOKEN
auth_url=${GIT_URL/http:\/\//http://$GIT_USER:$GIT_TOKEN@}
T="$work/tandem"

# secs CMD...: wall seconds of one run (output discarded).
secs() {
  local s e
  s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }; e=$(date +%s.%N)
  echo "$e - $s" | bc -l
}
# stats: "median min max" of the numbers on stdin
stats() { sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f %.3f %.3f", m, a[1], a[NR]}'; }
median() { stats | cut -d' ' -f1; }
# cell "MEDIAN | MIN–MAX" of "median min max"
cell() { set -- $1; echo "$1 | $2–$3"; }
cellms() { set -- $1; printf "%.0f | %.0f–%.0f" "$1" "$2" "$3"; }
ratio() { echo "scale=2; $1 / $2" | bc -l | sed 's/^\./0./'; }
# compare TITLE RUNS BASE TANDEM_FN TANDEM_LABEL SHELL_FN SHELL_LABEL: one table, tandem's
# runs interleaved with the baseline's (skipped without the flux CLI), so both see the same
# machine; the ratio is of the medians, with the spread of the per-run ratios. Each run gets
# a new tag v1.<BASE + run>.0, odd for tandem, even for the baseline.
compare() {
  local title=$1 runs=$2 base=$3 tfn=$4 tlabel=$5 sfn=$6 slabel=$7 i tv sv ts="" ss="" rs=""
  for i in $(seq 1 "$runs"); do
    tv=$(secs "$tfn" "v1.$((base + 2 * i - 1)).0") || tv=failed
    ts="$ts $tv"
    if [ -n "$FLUX" ]; then
      sv=$(secs "$sfn" "v1.$((base + 2 * i)).0") || sv=failed
      ss="$ss $sv"
      [ "$tv" != failed ] && [ "$sv" != failed ] && rs="$rs $(echo "$tv / $sv" | bc -l)"
    fi
  done
  echo "## $title"
  echo
  echo "| what | median s | min–max s | ratio of medians (per-run min–max) |"
  echo "|---|---|---|---|"
  case "$ts" in *failed*) echo "| $tlabel | failed | | |" ;; *) echo "| $tlabel | $(cell "$(printf '%s\n' $ts | stats)") | |" ;; esac
  if [ -n "$FLUX" ]; then
    case "$ss$rs" in
    *failed*) echo "| $slabel | failed | | |" ;;
    *)
      local sst rst; sst=$(printf '%s\n' $ss | stats); rst=$(printf '%s\n' $rs | stats)
      echo "| $slabel | $(cell "$sst") | $(ratio "$(printf '%s\n' $ts | median)" "${sst%% *}")× ($(echo "$rst" | awk '{printf "%.2f–%.2f", $2, $3}')) |"
      ;;
    esac
  fi
  echo
}
SECTIONS=${SECTIONS:-release cold artifact waiters startup scale preflight image}
want() { [[ " $SECTIONS " == *" $1 "* ]]; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
echo "# tandem benchmarks ($(date -u +%Y-%m-%d), runs: $RUNS, medians with min–max)"
echo
echo "Machine: $(nproc) cores ($cpu), $mem, Linux $(uname -r), $(go version | cut -d' ' -f3); load average at the start $(cut -d' ' -f1-3 /proc/loadavg)."
echo

empty=$work/checkout && mkdir -p "$empty"
# shell_release TAG: the write-up's release step (clone, sed, git commit/push, flux push artifact).
shell_release() {
  local d; d=$(mktemp -d "$work/clone.XXXX")
  git clone -q --depth 1 -b main "$auth_url" "$d"
  sed -i "s/IMAGE_TAG: .*/IMAGE_TAG: \"$1\"/" "$d/k8s/deployment-variables.yaml"
  git -C "$d" -c user.name=ci -c user.email=ci@example.com commit -qam "ci: update image tag to $1 [skip ci]"
  git -C "$d" push -q origin main
  "$FLUX" push artifact "oci://$REGISTRY/shop/shell-manifests:$1" --path "$d/k8s" --source "$GIT_URL" \
    --revision "main@sha1:$(git -C "$d" rev-parse HEAD)" --insecure-registry
  rm -rf "$d"
}

# 1. Release step with images already built: tandem release --prebuilt vs the write-up's
#    shell (clone, sed, git commit/push, flux push artifact).
if want release; then
hello=$PWD/pkg/image/testdata/hello
for i in $(seq 1 $((RUNS * 2))); do
  "$T" images --source "$hello" --registry "$REGISTRY" --app shop --tag "v1.$((100 + i)).0" --insecure >/dev/null
done
tandem_release() {
  "$T" release --prebuilt --app shop --registry "$REGISTRY" --repo-url "$GIT_URL" --branch main \
    --git-username "$GIT_USER" --tag "$1" --checkout "$empty" --insecure
}
compare "Release step, images prebuilt" "$RUNS" 100 \
  tandem_release "\`tandem release --prebuilt\` (check images, clone, bump, commit, push, image check, artifact)" \
  shell_release "shell: git clone + sed + commit + push + \`flux push artifact\`"
fi

# 2. Whole release of examples/go-postgres with an empty Go build cache: tandem builds
#    once and derives the migration image; the write-up builds two images independently
#    (emulated: two cold Docker-free image pipelines, each a `tandem images` with its own
#    empty build cache, then the shell step). The emulation pushes four images where the
#    write-up pushes two; the extra pushes upload no layer (mounted) and cost ~0.05 s.
if want cold && [ "${BENCH_COLD:-1}" = 1 ]; then
  notes=$PWD/examples/go-postgres
  cold_tandem() {
    GOCACHE=$(mktemp -d "$work/gocache.XXXX") "$T" release --app shop --registry "$REGISTRY" --source "$notes" \
      --package ./cmd/notes --repo-url "$GIT_URL" --branch main --git-username "$GIT_USER" --tag "$1" --checkout "$empty" --insecure
  }
  cold_twice() {
    local i
    for i in 1 2; do
      GOCACHE=$(mktemp -d "$work/gocache.XXXX") "$T" images --source "$notes" --package ./cmd/notes --registry "$REGISTRY" \
        --app "shop" --tag "$1" --insecure || return 1
    done
    shell_release "$1"
  }
  cruns=${COLD_RUNS:-3}
  compare "Whole release, empty Go build cache (examples/go-postgres, $cruns runs)" "$cruns" 300 \
    cold_tandem "\`tandem release\` (one build, two images, commit, artifact)" \
    cold_twice "two independent cold image builds + shell step"
fi

# 3. Artifact push of 10, 1 000 and 10 000 files.
if want artifact; then
echo "## Artifact push"
echo
echo "| files | tandem push-artifact s | min–max s | flux push artifact s | min–max s | ratio of medians | tandem re-push (same digest, nothing sent) s |"
echo "|---|---|---|---|---|---|---|"
for n in $ART_SIZES; do
  dir=$work/art$n && mkdir -p "$dir"
  printf 'resources: [cm-2.yaml]\n' > "$dir/kustomization.yaml" # the others ride along; an empty build is refused
  for f in $(seq 2 "$n"); do printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n' "$f" > "$dir/cm-$f.yaml"; done
  ta="" fa=""
  for i in $(seq 1 "$RUNS"); do # interleaved, each a new tag and content the registry has
    ta="$ta $(secs "$T" push-artifact --path "$dir" --artifact-repo "$REGISTRY/art$n" --tag "v1.0.$i" --insecure || echo failed)"
    [ -n "$FLUX" ] && fa="$fa $(secs "$FLUX" push artifact "oci://$REGISTRY/flux$n:v1.0.$i" --path "$dir" --source x --revision y --insecure-registry || echo failed)"
  done
  again=$(for i in $(seq 1 "$RUNS"); do secs "$T" push-artifact --path "$dir" --artifact-repo "$REGISTRY/art$n" --tag "v1.0.$i" --insecure; done | median)
  tcell="failed |" fcell="- | -" r="-"
  [[ "$ta" == *failed* ]] || tcell=$(cell "$(printf '%s\n' $ta | stats)")
  if [ -n "$FLUX" ]; then
    fcell="failed |"
    if [[ "$fa" != *failed* ]]; then
      fcell=$(cell "$(printf '%s\n' $fa | stats)")
      [[ "$ta" == *failed* ]] || r="$(ratio "$(printf '%s\n' $ta | median)" "$(printf '%s\n' $fa | median)")×"
    fi
  fi
  d1=$("$T" push-artifact --path "$dir" --artifact-repo "$REGISTRY/art$n" --tag v1.0.1 --insecure -o json | sed -n 's/.*"digest": "\(.*\)".*/\1/p')
  d2=$("$T" push-artifact --path "$dir" --artifact-repo "$REGISTRY/art$n" --tag v1.0.2 --insecure -o json | sed -n 's/.*"digest": "\(.*\)".*/\1/p')
  [ "${d1#*@}" = "${d2#*@}" ] || echo "digests differ for the same folder: $d1 $d2" >&2
  echo "| $n | $tcell | $fcell | $r | $again |"
done
echo
fi

# 4. Waiters: 50 waiting pods of tandem-wait against 50 k8s-wait-for-style kubectl loops
#    on one real API server (hack/testenv.sh's binaries; kubectl is built once from the Go
#    module proxy with the same Kubernetes version, ~1 minute, and cached).
if want waiters; then
testenv=${TANDEM_TESTENV_DIR:-$(bash hack/testenv.sh)}
KUBECTL=${KUBECTL:-}
if [ -z "$KUBECTL" ] && [ -d "$testenv/src/kubernetes" ]; then
  kdir=${XDG_CACHE_HOME:-$HOME/.cache}/tandem/kubectl/$(basename "$testenv")
  KUBECTL=$kdir/kubectl
  if [ ! -x "$KUBECTL" ] && [ "$SMOKE" = 1 ]; then
    KUBECTL="" # not built here: a smoke run does not build kubectl
  elif [ ! -x "$KUBECTL" ]; then
    echo "note: building kubectl into $kdir (once)" >&2
    mkdir -p "$kdir/src" && cp "$testenv/src/kubernetes/go.mod" "$testenv/src/kubernetes/go.sum" "$kdir/src/"
    sed -i 's#^module .*#module tandem.local/bench/kubectl#' "$kdir/src/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kubectl"\n' > "$kdir/src/tools.go"
    (cd "$kdir/src" && go mod tidy && go build -trimpath -ldflags="-s -w" -o "$KUBECTL.tmp" k8s.io/kubernetes/cmd/kubectl) >&2 &&
      mv "$KUBECTL.tmp" "$KUBECTL"
  fi
fi
if [ -x "${KUBECTL:-}" ] && [ -d "$testenv/bin" ]; then
  TANDEM_TESTENV_DIR=$testenv go run ./bench/waiters -tandem-wait "$work/tandem-wait" -kubectl "$KUBECTL" \
    -pods "${WAIT_PODS:-50}" -window "${WAIT_WINDOW:-30s}"
else
  echo "note: no test environment or kubectl; waiter rows skipped (run hack/testenv.sh)" >&2
fi
fi

# 5. Start-up: wall time of whole processes, timed by one Python process (no shell or
#    `date` start-up in the figure).
if want startup; then
echo "## Start-up (40 runs)"
echo
echo "| command | median ms | min–max ms |"
echo "|---|---|---|"
for c in "$work/empty-go" "$T --help" "$T wait --help" "$work/tandem-wait --help"; do
  # shellcheck disable=SC2086
  python3 - $c <<'PY' | sed "s#$work/##"
import statistics, subprocess, sys, time
ts = []
for _ in range(40):
    t = time.perf_counter()
    subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ts.append((time.perf_counter() - t) * 1000)
print("| `%s` | %.1f | %.1f–%.1f |" % (" ".join(sys.argv[1:]), statistics.median(ts), min(ts), max(ts)))
PY
done
echo
fi

# 6. Scale: tandem commit against the shell's clone + sed + commit + push, shallow (what a
#    CI job does) and full, on two repositories: 10 000 commits of 5 000 small files, and
#    200 MB of large files (20 × 10 MB of random bytes, so nothing compresses).
if want scale; then
SCALE_RUNS=${SCALE_RUNS:-3}
[ "$SMOKE" = 1 ] && SCALE_RUNS=1
# repo NAME COMMITS FILES BIGFILES MB: a bare repository NAME.git on the git server.
repo() {
  local src=$work/src-$1
  mkdir -p "$src" && git -C "$src" init -q -b main
  python3 - "$2" "$3" "$4" "$5" <<'PY' | git -C "$src" fast-import --quiet
import os, sys
out = sys.stdout.buffer
commits, files, big, mb = (int(a) for a in sys.argv[1:])
def blob(data):
    out.write(b"data %d\n" % len(data) + data + b"\n")
out.write(b"commit refs/heads/main\ncommitter b <b@x> 0 +0000\n")
blob(b"initial")
out.write(b"M 100644 inline k8s/deployment-variables.yaml\n")
blob(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deployment-variables\ndata:\n  IMAGE_TAG: \"v1.0.0\"\n")
for i in range(files - 1):
    out.write(b"M 100644 inline src/f%d.txt\n" % i); blob(b"file %d\n" % i)
for i in range(big):
    out.write(b"M 100644 inline assets/big%d.bin\n" % i); blob(os.urandom(mb << 20))
for c in range(1, commits):
    out.write(b"commit refs/heads/main\ncommitter b <b@x> %d +0000\n" % c)
    blob(b"change %d" % c)
    out.write(b"M 100644 inline src/f%d.txt\n" % (c % (files - 1))); blob(b"file %d rev %d\n" % (c % (files - 1), c))
PY
  git clone -q --bare "$src" "$work/git/$1.git" && rm -rf "$src"
  git -C "$work/git/$1.git" config http.receivepack true
}
# measure CMD...: "seconds peak-RSS-MB exit" of one run (getrusage of the child)
measure() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
d = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("%.3f %.0f %d" % (d, rss, r.returncode))
PY
}
# clone_bump DEPTH_ARGS URL TAG: the shell's step on a clone (shallow with --depth 1)
clone_bump() {
  local d; d=$(mktemp -d "$work/scale.XXXX")
  git clone -q $1 -b main "$2" "$d" && sed -i "s/IMAGE_TAG: .*/IMAGE_TAG: \"$3\"/" "$d/k8s/deployment-variables.yaml" &&
    git -C "$d" -c user.name=ci -c user.email=ci@example.com commit -qam "ci: $3 [skip ci]" && git -C "$d" push -q origin main
  local rc=$?; rm -rf "$d"; return $rc
}
export -f clone_bump; export work
# row LABEL TAGBASE CMD...: one table row over SCALE_RUNS runs (CMD gets the tag last)
row() {
  local label=$1 base=$2 i t m rc ts="" ms="" bad=0; shift 2
  for i in $(seq 1 "$SCALE_RUNS"); do
    read -r t m rc < <(measure "$@" "v1.$((base + i)).0")
    ts="$ts $t" ms="$ms $m"; [ "$rc" = 0 ] || bad=$rc
  done
  echo "| $label | $(cell "$(printf '%s\n' $ts | stats)") | $(printf '%s\n' $ms | sort -n | tail -1) | $bad |"
}
scale() {
  local name=$1 title=$2 url=${GIT_URL%/shop.git}/$1.git auth=${auth_url%/shop.git}/$1.git
  echo "## Scale: $title ($SCALE_RUNS runs each)"
  echo
  echo "| what | median s | min–max s | peak RSS MB (max) | exit |"
  echo "|---|---|---|---|---|"
  row "\`tandem commit\` (shallow clone, bump, commit, push)" 100 \
    "$T" commit --repo-url "$url" --branch main --git-username "$GIT_USER" --tag
  row "shell: shallow \`git clone --depth 1\` + sed + commit + push (what a CI job does)" 200 bash -c 'clone_bump "--depth 1" "$0" "$1"' "$auth"
  row "shell: full \`git clone\` + sed + commit + push" 300 bash -c 'clone_bump "" "$0" "$1"' "$auth"
  echo
}
if [ "$SMOKE" = 1 ]; then
  repo many 200 100 0 0 && repo large 2 10 2 1
  scale many "200 commits, 100 files"; scale large "2 × 1 MB of random bytes"
else # SCALE_REPOS="many" leaves the 200 MB one out
  if [[ " ${SCALE_REPOS:-many large} " == *" many "* ]]; then
    repo many 10000 5000 0 0 && scale many "10 000 commits, 5 000 files"
  fi
  if [[ " ${SCALE_REPOS:-many large} " == *" large "* ]]; then
    repo large 3 10 20 10 && scale large "200 MB: 20 × 10 MB of random bytes"
  fi
fi
fi

# 7. Pre-flight of examples/go-postgres (the live release plus one compatible migration),
#    by phase: the Go benchmark BenchmarkPreflight, one pre-flight per run.
if want preflight; then
echo "## Pre-flight (examples/go-postgres, $RUNS runs)"
echo
echo "| phase | median ms | min–max ms |"
echo "|---|---|---|"
if ! out=$(go test -run '^$' -bench '^BenchmarkPreflight$' -benchtime 1x -count "$RUNS" ./pkg/preflight 2>&1); then
  echo "$out" >&2
  echo "| whole pre-flight | failed | |"
elif grep -q '^BenchmarkPreflight' <<<"$out"; then
  echo "| whole pre-flight | $(cellms "$(grep '^BenchmarkPreflight' <<<"$out" | awk '{print $3 / 1e6}' | stats)") |"
  for ph in database previous migrate rerun compat; do
    echo "| $ph | $(cellms "$(grep '^BenchmarkPreflight' <<<"$out" | tr '\t' '\n' | awk -v p="$ph-ms/op" '$2 == p {print $1}' | stats)") |"
  done
else
  echo "| whole pre-flight | skipped: $(grep -m1 -i 'skip' <<<"$out" || echo 'no PostgreSQL') | |"
fi
echo
fi

# 8. The waiter's image (cmd/tandem-wait on an empty base), as pushed.
if want image; then
echo "## Waiter image"
echo
size=$("$T" waiter-image --source . --image "$REGISTRY/tandem" --tag bench --insecure -o json | sed -n 's/.*"compressedSize": \([0-9]*\).*/\1/p')
echo "| what | MB |"
echo "|---|---|"
echo "| \`tandem waiter-image\`, compressed (what a node pulls) | $(echo "scale=2; ${size:-0} / 1000000" | bc -l | sed 's/^\./0./') |"
echo "| \`tandem-wait\` binary as in the image (static, stripped) | $(stat -c %s "$work/tandem-wait" | awk '{printf "%.2f", $1 / 1e6}') |"
echo
fi
