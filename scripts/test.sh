#!/usr/bin/env bash
# Every test of kansoku, on a fresh machine: installs what is missing, then runs formatting,
# lints, the feature matrix, unit + doc tests, trybuild, expansion snapshots and the end-to-end
# tests against real tools. Exits non-zero on the first failure. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Every `cargo test` goes through here, so the last line can total them.
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
run_tests() {
  cargo test "$@" 2>&1 | tee -a "$results"
  return "${PIPESTATUS[0]}"
}

step "tools"
bash scripts/install-test-deps.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1
# Disk: one build per run, so incremental caches only cost space; and line tables, not full
# debug info (backtraces keep file and line). The variable reaches the cargo that trybuild
# runs for its cases too, whose manifest has no profile of ours: with full debug info its
# pass cases were 130 MB binaries each, 8 GB in all, and filled a CI machine's disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"

step "format"
cargo fmt --all -- --check

step "clippy (all targets, all features, -D warnings)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "feature matrix of kansoku by cargo hack: none, each feature alone and every pair, clippy -D warnings"
# `full` (all at once) is the workspace clippy above; pairs a feature already implies
# (tracing+sentry, sqlx+axum) are left out by cargo hack itself
cargo hack clippy -q -p kansoku --feature-powerset --depth 2 --exclude-features default,full -- -D warnings

step "docs build without warnings (broken intra-doc links fail), all features and each alone"
RUSTDOCFLAGS="-D warnings" cargo doc -q --workspace --all-features --no-deps
RUSTDOCFLAGS="-D warnings" cargo hack doc -q -p kansoku --each-feature --exclude-features default,full --no-deps

step "the published crates package, and build from their packages (cargo package)"
# cargo unpacks the packaged kansoku and kansoku-macros for the verification of the crates
# that depend on them into its home, once per name and version: a copy from an earlier run
# would be built instead of this one's
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rm -rf target/package "$cargo_home"/registry/src/-*/kansoku-[0-9]* "$cargo_home"/registry/src/-*/kansoku-macros-[0-9]*
cargo package -q -p kansoku-macros -p kansoku -p kansoku-cli --allow-dirty

step "kansoku unit and doc tests with no feature (the attributes must cost nothing and still compile)"
run_tests -p kansoku --no-default-features

step "trybuild cases with no kansoku feature (the workspace run below builds them with \`full\`)"
run_tests -p kansoku-ui-tests --test ui

step "the TLS probe application (its own workspace) for tls_stack.rs: reqwest's default features, and rustls-no-provider alone"
# (the test builds them again, a no-op then, so that it never runs a probe older than kansoku)
for variant in default no-provider; do
  features=(); [[ $variant == default ]] || features=(--no-default-features --features "$variant")
  cargo build -q --manifest-path tests/apps/tls-probe/Cargo.toml --target-dir target/tls-probe "${features[@]}"
done

step "every test of the workspace, all features (unit, doc, trybuild, snapshots, end to end)"
run_tests --workspace --all-features

# One closing line for the whole run: every `test result:` line added up.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "summary: %d passed, %d failed\n", p, f }' "$results"
