# Sourced by the install scripts. `apt_install WHY PACKAGE…` installs Debian packages when run
# as root, and otherwise fails loudly, saying what is missing and how to get it.
apt_install() {
  local why=$1
  shift
  if [[ $(id -u) -ne 0 ]]; then
    echo "$why: install them (apt-get install $*) or run as root" >&2
    exit 1
  fi
  echo "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends: promtool comes with the server package; its exporters are not needed
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
