#!/usr/bin/env bash
# Install Debian packages the tests need when a file they provide is missing (as root, or with sudo).
#   bash tests/ensure_debian.sh FILE PACKAGE [PACKAGE ...]
# Called by the tests that need them and by `bash run.sh test`; does nothing when FILE exists.
set -euo pipefail
file=$1
shift
if [ -e "$file" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "ensure_debian: need root or sudo to apt-get install $*" >&2; exit 1; }
  SUDO="sudo"
fi
echo "installing Debian's $* for the tests (once; up to a minute)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "$@" >/dev/null
[ -e "$file" ] || { echo "ensure_debian: installed $* but $file is still missing" >&2; exit 1; }
