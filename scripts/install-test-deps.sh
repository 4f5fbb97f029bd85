#!/usr/bin/env bash
# Installs what the tests need and a fresh machine may lack. Idempotent; quiet when all is there.
# A tool that cannot be installed is a loud failure here, never a skipped test later.
set -euo pipefail
source "$(dirname "$0")/apt.sh"

need_apt=()
# `prometheus` brings promtool too: the rule checks and unit tests, and the end-to-end scrape
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
# the generated Alertmanager configuration: `amtool check-config` and the end-to-end route to people
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v amtool >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools) # the cluster test's `redis-cli --cluster create`
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl) # certificates for the Redis TLS tests
command -v psql >/dev/null 2>&1 || need_apt+=(postgresql-client) # shops-api's test makes its own database on 127.0.0.1:5432
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium fonts-dejavu-core) # live_page renders /ops/live headless
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver) # and keeps one page open through WebDriver

if ((${#need_apt[@]})); then
  mapfile -t need_apt < <(printf '%s\n' "${need_apt[@]}" | sort -u)
  apt_install "missing ${need_apt[*]}" "${need_apt[@]}"
fi

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

# the feature matrix (scripts/test.sh): every feature alone and every pair, from crates.io
if ! cargo hack --version >/dev/null 2>&1; then
  cargo install cargo-hack --locked --version "^0.6"
fi

echo "promtool: $(promtool --version 2>&1 | head -1)"
echo "alertmanager: $(prometheus-alertmanager --version 2>&1 | head -1)"
bash "$(dirname "$0")/install-bugsink.sh"   # Bugsink, the Sentry-compatible server (a venv in .tools/)
