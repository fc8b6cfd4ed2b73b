#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the browser tests, installed when missing (tests/ensure_debian.sh).
set -euo pipefail
here=$(dirname "$0")
for f in /usr/bin/chromium /usr/bin/chromedriver; do
  bash "$here/../ensure_debian.sh" "$f" chromium chromium-driver
done
/usr/bin/chromium --version >&2
