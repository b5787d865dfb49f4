#!/usr/bin/env bash
# The tests need PostgreSQL at 127.0.0.1:5432 (user postgres, database test) and Redis at
# 127.0.0.1:6379. Start the local ones if they are installed but stopped; otherwise fail with a
# clear message (tests are never skipped).
set -euo pipefail
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
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
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
fi
if ! redis_up; then
  echo "Redis is not reachable at 127.0.0.1:6379; set ARCHIVE_TEST_REDIS_URL or start it." >&2
  exit 1
fi
