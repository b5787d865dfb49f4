#!/usr/bin/env bash
# The tests need PostgreSQL at 127.0.0.1:5432 (user postgres, database test). Start the local
# cluster if it is installed but stopped; otherwise fail with a clear message (never skip).
set -euo pipefail
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! pg_up; then
  echo "PostgreSQL is not reachable at 127.0.0.1:5432; set ARCHIVE_TEST_PG_URL or start it." >&2
  exit 1
fi
