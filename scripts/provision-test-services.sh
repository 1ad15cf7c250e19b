#!/usr/bin/env bash
# Makes sure the services the integration tests talk to are up, and creates the MariaDB user the
# tests connect as. Idempotent; safe to run on a machine where everything is already running.
set -euo pipefail

log() { printf '[provision] %s\n' "$*"; }

need_apt=()
command -v mariadbd >/dev/null 2>&1 || command -v mysqld >/dev/null 2>&1 || need_apt+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

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
log "MariaDB ready (user sluice on 127.0.0.1:3306)"

# Redis: later issues' tests use it; start it if it is down.
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.25; done
fi
log "Redis ready"
