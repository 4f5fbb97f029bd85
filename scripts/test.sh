#!/usr/bin/env bash
# Every test of kansoku, on a fresh machine: installs what is missing, then runs formatting,
# lints, the feature matrix, unit + doc tests, trybuild, expansion snapshots and the end-to-end
# tests against real tools. Exits non-zero on the first failure. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "tools"
bash scripts/install-test-deps.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

step "format"
cargo fmt --all -- --check

step "clippy (all targets, all features, -D warnings)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "feature matrix of kansoku: none, each alone, all"
for features in "" otel sentry redis tower axum full; do
  echo "-- features: ${features:-none}"
  cargo clippy -q -p kansoku --no-default-features ${features:+--features "$features"} -- -D warnings
done

step "kansoku unit and doc tests with no feature (the attributes must cost nothing and still compile)"
cargo test -q -p kansoku --no-default-features

step "every test of the workspace, all features (unit, doc, trybuild, snapshots, end to end)"
cargo test --workspace --all-features
