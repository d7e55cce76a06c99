#!/usr/bin/env bash
# The browser tests' needs: Debian's Chromium (Playwright's own browser download cannot work here), CJK
# fonts for the Chinese pages, and axe-core (the accessibility rules) vendored under .tools/axe.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -qi "noto.*cjk"; then
  echo "installing Chromium and CJK fonts from Debian's packages..." >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk >&2
fi
if [ ! -f .tools/axe/node_modules/axe-core/axe.min.js ]; then
  mkdir -p .tools/axe
  npm install --silent --no-audit --no-fund --prefix .tools/axe axe-core@4 >&2
fi
