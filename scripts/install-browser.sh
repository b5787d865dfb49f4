#!/bin/sh
# Make Debian's Chromium (and a CJK font so Chinese pages render) available for the
# browser tests. Idempotent: does nothing when everything is already installed.
# Playwright is pointed at /usr/bin/chromium; it never downloads its own browser.
set -u

CHROMIUM=/usr/bin/chromium
PACKAGES="chromium fonts-noto-cjk"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ] && [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "install-browser.sh: need root to install:$missing (run as root or install them yourself)" >&2
        exit 1
    fi
else
    SUDO=""
fi

echo "install-browser.sh: installing$missing ..." >&2
log=$(mktemp "${TMPDIR:-/tmp}/install-browser.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-browser.sh: 'apt-get update' failed; cannot install$missing" >&2
    exit 1
fi
# shellcheck disable=SC2086
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-browser.sh: 'apt-get install$missing' failed" >&2
    exit 1
fi

if [ ! -x "$CHROMIUM" ]; then
    echo "install-browser.sh: $CHROMIUM still missing after installing chromium" >&2
    exit 1
fi
echo "install-browser.sh: ready ($($CHROMIUM --version 2>/dev/null || echo "$CHROMIUM"))" >&2
exit 0
