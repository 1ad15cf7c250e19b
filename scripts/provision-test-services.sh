#!/usr/bin/env bash
# Makes sure the services the integration tests talk to are up, and creates the MariaDB user the
# tests connect as. Idempotent; safe to run on a machine where everything is already running.
set -euo pipefail

log() { printf '[provision] %s\n' "$*"; }

need_apt=()
command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 || need_apt+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# Prometheus (promtool, and a real server for the alert end-to-end test) and Alertmanager (amtool).
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v amtool >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
# The console's browser tests drive Debian's Chromium through playwright-core (no browser download).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# The bench's max-rate load generator (bench/load/wrk.ts); the CI smoke run of the bench uses it.
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
# The signer's libsecp256k1 binding (native/libsecp256k1, built by `npm run build:native` after this).
[ -f /usr/include/secp256k1_recovery.h ] || need_apt+=(libsecp256k1-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
for tool in promtool amtool prometheus; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is not on PATH after installing prometheus / prometheus-alertmanager"; exit 1; }
done

# MariaDB: start it (as the mysql user; it refuses root) unless it already answers.
if ! mysqladmin --protocol=socket -uroot ping >/dev/null 2>&1; then
  log "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  fi
  start-stop-daemon --start --oknodo --background --exec "$(command -v mariadbd || command -v mysqld)" -- --user=mysql
  for _ in $(seq 1 60); do
    mysqladmin --protocol=socket -uroot ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  mysqladmin --protocol=socket -uroot ping >/dev/null || { log "MariaDB did not start"; exit 1; }
fi

# A TCP user for the tests; each test file makes and drops its own sluice_t_* database.
mysql --protocol=socket -uroot <<'SQL'
CREATE USER IF NOT EXISTS 'sluice'@'127.0.0.1' IDENTIFIED BY 'sluice';
CREATE USER IF NOT EXISTS 'sluice'@'localhost' IDENTIFIED BY 'sluice';
GRANT ALL PRIVILEGES ON `sluice\_%`.* TO 'sluice'@'127.0.0.1';
GRANT ALL PRIVILEGES ON `sluice\_%`.* TO 'sluice'@'localhost';
FLUSH PRIVILEGES;
SQL
# deploy/mysql/sluice.cnf's values, applied to the running server (every one is dynamic on MariaDB
# 10.11; sizes only grow): the tests and `npm run bench` run against a server set up the way
# Sluice asks production to be, and `sluice migrate` / every role warn about any that is not.
mysql --protocol=socket -uroot -e 'SET GLOBAL innodb_flush_log_at_trx_commit = 1'
# The sizes need ~2 GiB of disk for the redo log; without it the tests still run (a throughput
# finding is only a warning), but the bench's MariaDB figures are not comparable with other runs.
mysql --protocol=socket -uroot <<'SQL' || log "WARNING: could not grow MariaDB's buffer pool or redo log (free disk?); see README 'MySQL server settings'"
SET GLOBAL innodb_buffer_pool_size = GREATEST(@@innodb_buffer_pool_size, 1073741824);
SET GLOBAL innodb_log_file_size = GREATEST(@@innodb_log_file_size, 2147483648);
SQL
log "MariaDB ready (user sluice on 127.0.0.1:3306; $(mysql --protocol=socket -uroot -N -e 'SELECT CONCAT("redo ", @@innodb_log_file_size DIV 1048576, " MiB, buffer pool ", @@innodb_buffer_pool_size DIV 1048576, " MiB, flush at commit ", @@innodb_flush_log_at_trx_commit)'))"

# Redis: later issues' tests use it; start it if it is down.
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.25; done
fi
log "Redis ready"

# moto_server stands in for SQS, KMS and Secrets Manager. Started through shared/'s wrapper,
# because plain moto signs sha256(digest) for MessageType=DIGEST and KMS tests would prove nothing.
MOTO_PORT="${SLUICE_TEST_MOTO_PORT:-5000}"
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
moto_wrapper="$repo_root/../shared/tools/moto-kms-digest-server.py"
if ! curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null; then
  [ -f "$moto_wrapper" ] || { log "missing $moto_wrapper (shared/ must sit beside the repo)"; exit 1; }
  moto_python=""
  for candidate in python3 "$HOME/.pyenv/shims/python3" /root/.pyenv/shims/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import moto.server' >/dev/null 2>&1; then moto_python="$candidate"; break; fi
  done
  [ -n "$moto_python" ] || { log "no Python with moto 5.x found (moto_server is part of the machine image; see DESIGN §7)"; exit 1; }
  log "starting moto_server (digest-aware KMS) on 127.0.0.1:$MOTO_PORT"
  mkdir -p /var/log/sluice-test
  nohup "$moto_python" "$moto_wrapper" -H 127.0.0.1 -p "$MOTO_PORT" >/var/log/sluice-test/moto.log 2>&1 &
  for _ in $(seq 1 60); do curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null && break; sleep 0.5; done
  curl -fsS -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" || { log "moto_server did not start; see /var/log/sluice-test/moto.log"; exit 1; }
fi
log "moto_server ready (http://127.0.0.1:$MOTO_PORT)"
