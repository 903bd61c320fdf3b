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
#
# TLS is on (connections may use it; none has to): at the first start a throwaway CA and a server
# certificate for 127.0.0.1/localhost are made with openssl in .cache/mariadb/tls (ca.pem is what
# clients verify the server with; nothing there is ever committed). A running server without TLS
# (started by an older version of this script) is restarted once to turn it on.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p .cache/mariadb
home="$(cd .cache/mariadb && pwd -P)"   # the real folder: .cache may be a link to a shared one
data="$home/data"
socket="$home/mysqld.sock"
tls="$home/tls"
port="${MART_TEST_PORT:-3307}"
user="$(id -un)"

server() { command -v mariadbd || ls /usr/sbin/mariadbd 2>/dev/null || true; }

answers() { mariadb-admin --no-defaults --socket="$socket" --user=root ping >/dev/null 2>&1; }

has_tls() {
  [ "$(mariadb --no-defaults --socket="$socket" --user=root -N -B -e 'SELECT @@have_ssl' 2>/dev/null)" = YES ]
}

# A CA and a server certificate signed by it, valid for 127.0.0.1 and localhost, made once.
certificates() {
  if [ -s "$tls/ca.pem" ] && [ -s "$tls/server.pem" ] && [ -s "$tls/server.key" ]; then return; fi
  command -v openssl >/dev/null || { echo "mariadb.sh: openssl is needed for the test server's TLS" >&2; exit 1; }
  local work
  work="$(mktemp -d "$home/tls.XXXXXX")"
  (
    cd "$work"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=related-artists test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem
    chmod 644 ca.pem server.pem
    rm -f ca.key ca.srl server.csr server.ext   # nothing else is ever signed with this CA
  ) >"$home/tls.log" 2>&1 || { cat "$home/tls.log" >&2; rm -rf "$work"; exit 1; }
  chmod 755 "$work"
  rm -rf "$tls"
  mv "$work" "$tls"
}

install() {
  if ! command -v openssl >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "mariadb.sh: installing openssl from Debian packages (the test server's TLS certificates)"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssl
  fi
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
  mkdir -p "$home"
  certificates
  if answers && has_tls; then echo "mariadb.sh: already running on 127.0.0.1:$port (TLS on)"; return; fi
  if answers; then echo "mariadb.sh: running without TLS: restarting it with TLS"; stop; fi
  if [ ! -d "$data/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$data" --user="$user" \
      --auth-root-authentication-method=normal --skip-test-db >"$home/install.log" 2>&1 \
      || { cat "$home/install.log" >&2; exit 1; }
  fi
  setsid "$(server)" --no-defaults --datadir="$data" --socket="$socket" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$home/mysqld.pid" --log-error="$home/error.log" --user="$user" \
    --skip-name-resolve --innodb-buffer-pool-size=1G --innodb-log-file-size=512M \
    --innodb-flush-log-at-trx-commit=2 --max-allowed-packet=64M --character-set-server=utf8mb4 \
    --ssl-ca="$tls/ca.pem" --ssl-cert="$tls/server.pem" --ssl-key="$tls/server.key" \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 60); do
    if answers; then echo "mariadb.sh: running on 127.0.0.1:$port (socket $socket, TLS CA $tls/ca.pem)"; return; fi
    sleep 0.5
  done
  echo "mariadb.sh: the server did not answer within 30 s; its log:" >&2
  tail -20 "$home/error.log" >&2
  exit 1
}

stop() {
  if answers; then mariadb-admin --no-defaults --socket="$socket" --user=root shutdown; fi
  for _ in $(seq 1 60); do
    if ! answers && ! [ -e "$home/mysqld.pid" ]; then break; fi
    sleep 0.5
  done
  echo "mariadb.sh: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: scripts/mariadb.sh start|stop|status" >&2; exit 2 ;;
esac
