#!/usr/bin/env bash
# scripts/test.sh: every test Weir has, in one command (README's second command; .ci/run runs it).
#
#   1. go vet ./...
#   2. go test ./...                    unit, property and data-driven tests, the purity test
#   3. go test -race <concurrent pkgs>  the race detector where code runs goroutines
#      (both with -count=1: results cached from an earlier run on this machine never count)
#   4. each fuzz target for FUZZTIME    found with `go test -list '^Fuzz'`, so new ones run
#
# Needs Go; the client end-to-end tests also need kcat, python3-confluent-kafka and python3-kafka
# (installed when run as root with apt-get). The race detector also needs cgo and a C compiler; without one the race step is
# skipped and the summary says so, except under CI=true (or WEIR_REQUIRE_RACE=1), where a
# missing tool fails the run.
#
# Environment: FUZZTIME (default 10s per target), TEST_TIMEOUT (default 16m per go test run: the sim package runs the broker, cluster and quorum seed sets and scenarios, about 6-7 minutes alone on two cores and up to 11 on a loaded machine; a hung package must not eat the 30 minute budget),
# WEIR_REQUIRE_RACE (1: fail rather than skip the race detector).
set -uo pipefail

cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-10s}
test_timeout=${TEST_TIMEOUT:-16m}
# Under CI=true a missing tool fails the run; it never skips.
if [ "${CI:-}" = true ]; then
  require_race=${WEIR_REQUIRE_RACE:-1}
else
  require_race=${WEIR_REQUIRE_RACE:-0}
fi
# Packages whose code may run on several goroutines (today: the diskio implementations, which
# lock for concurrent readers, and the CLI). Add a package here when it starts a goroutine.
race_patterns=(./diskio/... ./netio/... ./cmd/...)

results=()
failed=0

# step NAME CMD...: run a command, record PASS/FAIL with its duration.
step() {
  local name=$1
  shift
  local start=$SECONDS
  echo
  echo "==> $name: $*"
  if "$@"; then
    results+=("PASS  $name ($((SECONDS - start))s)")
  else
    results+=("FAIL  $name ($((SECONDS - start))s)")
    failed=1
  fi
}

skip() {
  results+=("SKIP  $1: $2")
  echo
  echo "==> SKIP $1: $2"
}

if ! command -v go >/dev/null 2>&1; then
  echo "scripts/test.sh: go is not on PATH; install Go (see go.mod for the version)" >&2
  exit 1
fi
echo "go: $(go version)"

# The third-party Kafka clients the end-to-end tests run (cmd/weir/e2e_clients_test.go):
# installed where we may; under CI=true those tests fail rather than skip without them.
clients_missing() {
  command -v kcat >/dev/null 2>&1 && /usr/bin/python3 -c 'import confluent_kafka, kafka' >/dev/null 2>&1 && return 1
  return 0
}
if clients_missing && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing kcat, python3-confluent-kafka, python3-kafka for the client tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat python3-confluent-kafka python3-kafka >/dev/null
fi
if clients_missing; then
  if [ "${CI:-}" = true ]; then
    results+=("FAIL  clients: CI=true but kcat or /usr/bin/python3 with confluent_kafka and kafka is missing")
    failed=1
  else
    skip "clients" "kcat or /usr/bin/python3 with confluent_kafka and kafka is missing; the client tests skip"
  fi
fi

step "vet" go vet ./...
step "test" go test -count=1 -timeout "$test_timeout" ./...

# The race detector: only patterns that match a package (a package may not exist yet).
race_packages=()
for pattern in "${race_patterns[@]}"; do
  dir=${pattern%/...}
  [ -d "$dir" ] && race_packages+=("$pattern")
done
# The race detector needs cgo's C compiler: install it where we may (CI and fresh machines run as
# root with Debian's packages reachable).
cc=$(go env CC)
if ! command -v "${cc%% *}" >/dev/null 2>&1 && [ "$require_race" = 1 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing gcc for the race detector"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc >/dev/null
fi
# Why the race detector cannot run here, if it cannot.
race_missing=""
if [ "$(go env CGO_ENABLED)" != 1 ]; then
  race_missing="cgo is disabled (CGO_ENABLED=0)"
else
  cc=$(go env CC)
  command -v "${cc%% *}" >/dev/null 2>&1 || race_missing="no C compiler ($cc) for cgo"
fi
if [ ${#race_packages[@]} -eq 0 ]; then
  skip "race" "no concurrent packages yet"
elif [ -z "$race_missing" ]; then
  step "race" go test -count=1 -race -timeout "$test_timeout" "${race_packages[@]}"
elif [ "$require_race" = 1 ]; then
  results+=("FAIL  race: WEIR_REQUIRE_RACE=1 but the race detector cannot run: $race_missing")
  failed=1
else
  skip "race" "the race detector cannot run: $race_missing"
fi

# fuzz_one PKG TARGET: fuzz one target for $fuzztime. Go 1.26's fuzz coordinator can end a clean
# run with a bare "context deadline exceeded" as -fuzztime expires (golang/go#75804, fixed in
# Go 1.27): that run wrote no failing input and its output holds no other failure, so it is
# recorded as FLAKY, not failed. Anything else that exits non-zero fails, and a real finding
# always writes its input to testdata/fuzz/TARGET, which also fails.
fuzz_one() {
  local pkg=$1 target=$2 name="fuzz $2 ($1, $fuzztime)" start=$SECONDS out rc
  echo
  echo "==> $name"
  out=$(go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg" 2>&1)
  rc=$?
  echo "$out"
  if [ $rc -eq 0 ]; then
    results+=("PASS  $name ($((SECONDS - start))s)")
  elif ! grep -q 'Failing input written to' <<<"$out" &&
    [ "$(grep -E '^\s+[^ ]' <<<"$out" | grep -vc 'context deadline exceeded')" = 0 ] &&
    grep -q '^    context deadline exceeded$' <<<"$out"; then
    results+=("FLAKY $name: Go's fuzz coordinator stopped with a bare context deadline (golang/go#75804); no failing input")
  else
    results+=("FAIL  $name ($((SECONDS - start))s)")
    failed=1
  fi
}

# Fuzz targets: `go test -list` prints each package's matching tests, then "ok  <pkg> ...".
echo
echo "==> listing fuzz targets"
# A package that does not build lists nothing (and has failed the test step already); the
# targets of the others still run.
if ! listing=$(go test -list '^Fuzz' ./... 2>&1); then
  echo "$listing"
  results+=("FAIL  fuzz: listing targets failed for some package (see above)")
  failed=1
fi
targets=$(awk '
  /^Fuzz[A-Za-z0-9_]*$/ { names[n++] = $1; next }
  /^ok[ \t]/ { for (i = 0; i < n; i++) print $2, names[i]; n = 0; next }
  /^(FAIL|\?)[ \t]/ { n = 0 }
' <<<"$listing")
if [ -z "$targets" ]; then
  skip "fuzz" "no fuzz targets"
else
  # The list is read on fd 3 so that nothing a test runs can consume it from stdin.
  while read -r pkg target <&3; do
    fuzz_one "$pkg" "$target"
  done 3<<<"$targets"
fi

echo
echo "==> summary ($((SECONDS / 60))m$((SECONDS % 60))s in all)"
printf '%s\n' "${results[@]}"
if [ $failed -ne 0 ]; then
  echo "scripts/test.sh: FAILED"
  exit 1
fi
echo "scripts/test.sh: all passed"
