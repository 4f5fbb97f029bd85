#!/usr/bin/env bash
# Installs Bugsink (a self-hosted, Sentry-compatible server) for the end-to-end tests of the
# Sentry backend: a venv at .tools/bugsink-venv, and a migrated template SQLite database at
# .tools/bugsink-template/ that each test instance copies instead of migrating (~13 s each).
# Idempotent; quiet when all is there. A failure is a loud non-zero exit, never a skipped test.
set -euo pipefail
source "$(dirname "$0")/apt.sh"
cd "$(dirname "$0")/.."

version=2.6.2
venv=.tools/bugsink-venv
template=.tools/bugsink-template

# The venv, with exactly this version of bugsink (re-created when it holds another one).
if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('bugsink') != '$version')" 2>/dev/null; then
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install "python3 cannot create a venv" python3-venv
  fi
  echo "installing bugsink==$version into $venv"
  rm -rf "$venv" "$template"
  mkdir -p .tools
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "bugsink==$version"
fi

# The template database: migrated once, copied by every test instance (tests/src/bugsink.rs).
# Built in a scratch folder and moved in place last, so an interrupted run leaves no half template.
if [[ ! -f $template/db.sqlite3 || ! -f $template/snappea.sqlite3 ]]; then
  echo "migrating the bugsink template database into $template"
  rm -rf "$template" "$template.tmp"
  mkdir -p "$template.tmp"
  dir="$(cd "$template.tmp" && pwd)"
  cat >"$dir/bugsink_conf.py" <<EOF
from bugsink.settings.default import *  # noqa

SECRET_KEY = "kansoku-template-only-not-secret"
DATABASES["default"]["NAME"] = "$dir/db.sqlite3"
DATABASES["snappea"]["NAME"] = "$dir/snappea.sqlite3"
SNAPPEA = {"TASK_ALWAYS_EAGER": True}
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
BUGSINK = {
    "BASE_URL": "http://127.0.0.1:8000",
    "SINGLE_USER": True,
    "SINGLE_TEAM": True,
    "USER_REGISTRATION": "CB_NOBODY",
    "PHONEHOME": False,
}
EOF
  (
    export PYTHONPATH="$dir" DJANGO_SETTINGS_MODULE=bugsink_conf
    "$venv/bin/bugsink-manage" migrate --no-input >/dev/null
    "$venv/bin/bugsink-manage" migrate --no-input --database=snappea >/dev/null
  )
  rm -rf "$dir/bugsink_conf.py" "$dir/__pycache__"
  mv "$template.tmp" "$template"
fi

echo "bugsink: $("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('bugsink'))")"
