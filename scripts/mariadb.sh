#!/usr/bin/env bash
# A private MariaDB server for tests and benchmarks: its own data folder under .cache/mariadb,
# listening on 127.0.0.1:${MART_TEST_PORT:-3307} and on a socket there, run as the current user.
#
#   scripts/mariadb.sh start    install mariadb-server from Debian if missing (root only), start, wait
#   scripts/mariadb.sh stop     stop the server
#   scripts/mariadb.sh status   exit 0 when it answers
#
# Only root@localhost over the socket exists, without a password; tests create their own
# database and a user with a random password at each session (tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."

home="$PWD/.cache/mariadb"
data="$home/data"
socket="$home/mysqld.sock"
port="${MART_TEST_PORT:-3307}"
user="$(id -un)"

server() { command -v mariadbd || ls /usr/sbin/mariadbd 2>/dev/null || true; }

answers() { mariadb-admin --no-defaults --socket="$socket" --user=root ping >/dev/null 2>&1; }

install() {
  if [ -n "$(server)" ]; then return; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "mariadb.sh: no MariaDB server binary; install it: sudo apt-get install mariadb-server" >&2
    exit 1
  fi
  echo "mariadb.sh: installing mariadb-server from Debian packages"
  apt-get update -q
  # The package's own service is not needed: the server below runs from its own folder.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server mariadb-client
}

start() {
  install
  if answers; then echo "mariadb.sh: already running on 127.0.0.1:$port"; return; fi
  mkdir -p "$home"
  if [ ! -d "$data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$data" --user="$user" \
      --auth-root-authentication-method=normal --skip-test-db >"$home/install.log" 2>&1 \
      || { cat "$home/install.log" >&2; exit 1; }
  fi
  setsid "$(server)" --no-defaults --datadir="$data" --socket="$socket" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$home/mysqld.pid" --log-error="$home/error.log" --user="$user" \
    --skip-name-resolve --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
    --innodb-flush-log-at-trx-commit=2 --max-allowed-packet=64M --character-set-server=utf8mb4 \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 60); do
    if answers; then echo "mariadb.sh: running on 127.0.0.1:$port (socket $socket)"; return; fi
    sleep 0.5
  done
  echo "mariadb.sh: the server did not answer within 30 s; its log:" >&2
  tail -20 "$home/error.log" >&2
  exit 1
}

stop() {
  if answers; then mariadb-admin --no-defaults --socket="$socket" --user=root shutdown; fi
  echo "mariadb.sh: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: scripts/mariadb.sh start|stop|status" >&2; exit 2 ;;
esac
