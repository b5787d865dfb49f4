#!/bin/sh
# Make pg_dump and pg_restore (and initdb, for the replica tests) available: `archive backup` / `archive restore` use them on PostgreSQL
# (the SQLite default needs nothing). Idempotent: does nothing when both are on the PATH.
# pg_dump must be at least as new as the server it dumps (Debian 12's postgresql-client is 15).
set -u

if ! { command -v pg_dump >/dev/null 2>&1 && command -v pg_restore >/dev/null 2>&1; }; then
    sh "$(dirname "$0")/apt-install.sh" install-pg-client.sh postgresql-client || exit 1
    echo "install-pg-client.sh: ready ($(pg_dump --version))" >&2
fi
# The replica tests (tests/replica_cluster.py) start a throw-away primary and standby with initdb,
# pg_ctl and pg_basebackup: Debian's postgresql package keeps the first two in
# /usr/lib/postgresql/<version>/bin. Only when no initdb is anywhere.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    sh "$(dirname "$0")/apt-install.sh" install-pg-client.sh postgresql || exit 1
fi
exit 0
