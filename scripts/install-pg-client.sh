#!/bin/sh
# Make pg_dump and pg_restore available: `archive backup` / `archive restore` use them on PostgreSQL
# (the SQLite default needs nothing). Idempotent: does nothing when both are on the PATH.
# pg_dump must be at least as new as the server it dumps (Debian 12's postgresql-client is 15).
set -u

if command -v pg_dump >/dev/null 2>&1 && command -v pg_restore >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo -n"
    else
        echo "install-pg-client.sh: need root to install postgresql-client (run as root or install it yourself)" >&2
        exit 1
    fi
else
    SUDO=""
fi
echo "install-pg-client.sh: installing postgresql-client ..." >&2
log=$(mktemp "${TMPDIR:-/tmp}/install-pg-client.XXXXXX")
trap 'rm -f "$log"' EXIT
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 \
   || ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-pg-client.sh: could not install postgresql-client" >&2
    exit 1
fi
echo "install-pg-client.sh: ready ($(pg_dump --version))" >&2
exit 0
