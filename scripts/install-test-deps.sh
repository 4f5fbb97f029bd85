#!/usr/bin/env bash
# Installs what the tests need and a fresh machine may lack. Idempotent; quiet when all is there.
# A tool that cannot be installed is a loud failure here, never a skipped test later.
set -euo pipefail

need_apt=()
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools) # the cluster test's `redis-cli --cluster create`

if ((${#need_apt[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing ${need_apt[*]}: install them (apt-get install ${need_apt[*]}) or run as root" >&2
    exit 1
  fi
  echo "installing ${need_apt[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends: promtool comes with the server package; its exporters are not needed
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

echo "promtool: $(promtool --version 2>&1 | head -1)"
bash "$(dirname "$0")/install-bugsink.sh"   # Bugsink, the Sentry-compatible server (a venv in .tools/)
