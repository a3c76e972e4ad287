# Sourced by scripts/test.sh and scripts/bench.sh: `install_missing WHAT PACKAGE...` installs the Debian packages
# named when any are given (CI runs as root on a fresh machine), or says which are missing and exits 2.
install_missing() {
  local what=$1
  shift
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's $* for $what"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing for $what: $* (sudo apt-get install $*)" >&2
    exit 2
  fi
}
