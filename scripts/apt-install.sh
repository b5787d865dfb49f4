#!/bin/sh
# Install the Debian packages given that are not installed yet (apt, as root or through sudo -n).
# Usage: apt-install.sh CALLER PACKAGE...   (CALLER prefixes the messages). Idempotent.
set -u

caller=$1
shift
missing=""
for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "$caller: need root to install:$missing (run as root or install them yourself)" >&2
        exit 1
    fi
else
    SUDO=""
fi

echo "$caller: installing$missing ..." >&2
log=$(mktemp "${TMPDIR:-/tmp}/apt-install.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
    cat "$log" >&2
    echo "$caller: 'apt-get update' failed; cannot install$missing" >&2
    exit 1
fi
# shellcheck disable=SC2086
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >"$log" 2>&1; then
    cat "$log" >&2
    echo "$caller: 'apt-get install$missing' failed" >&2
    exit 1
fi
exit 0
