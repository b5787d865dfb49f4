#!/bin/sh
# Make Debian's Chromium (and a CJK font so Chinese pages render) available for the
# browser tests. Idempotent: does nothing when everything is already installed.
# Playwright is pointed at /usr/bin/chromium; it never downloads its own browser.
set -u

CHROMIUM=/usr/bin/chromium

sh "$(dirname "$0")/apt-install.sh" install-browser.sh chromium fonts-noto-cjk || exit 1
if [ ! -x "$CHROMIUM" ]; then
    echo "install-browser.sh: $CHROMIUM still missing after installing chromium" >&2
    exit 1
fi
echo "install-browser.sh: ready ($($CHROMIUM --version 2>/dev/null || echo "$CHROMIUM"))" >&2
exit 0
