#!/usr/bin/env bash
# Make sure MariaDB and Redis answer on localhost; start them if installed but stopped.
# Fails with a clear message if either is not installed.
set -uo pipefail
DB_HOST="${VERENIGINGEN_DB_HOST:-127.0.0.1}"
DB_PORT="${VERENIGINGEN_DB_PORT:-3306}"
REDIS_HOST="${VERENIGINGEN_REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${VERENIGINGEN_REDIS_PORT:-6379}"

redis_up() { python3 - "$REDIS_HOST" "$REDIS_PORT" <<'PY'
import socket, sys
try:
	s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
	s.sendall(b"PING\r\n")
	sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
	sys.exit(1)
PY
}
mariadb_up() { python3 - "$DB_HOST" "$DB_PORT" <<'PY'
import socket, sys
try:
	socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
	sys.exit(1)
PY
}
wait_for() { # name check-fn
	for _ in $(seq 1 60); do "$2" && return 0; sleep 0.5; done
	echo "ERROR: $1 did not come up in 30 s" >&2; return 1
}

if redis_up; then
	echo "== Redis is up on $REDIS_HOST:$REDIS_PORT"
elif command -v redis-server >/dev/null 2>&1; then
	echo "== starting Redis on port $REDIS_PORT"
	mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
	redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
		--dir /tmp --logfile /tmp/verenigingen-redis.log
	wait_for Redis redis_up || exit 1
else
	echo "ERROR: Redis is not running on $REDIS_HOST:$REDIS_PORT and redis-server is not installed." >&2
	echo "       Install it (Debian: apt-get install redis-server) or set VERENIGINGEN_REDIS_HOST/PORT." >&2
	exit 1
fi

if mariadb_up; then
	echo "== MariaDB is up on $DB_HOST:$DB_PORT"
elif command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
	echo "== starting MariaDB"
	mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd 2>/dev/null \
		|| (/usr/sbin/mariadbd --user=mysql >/tmp/verenigingen-mariadb.log 2>&1 &)
	wait_for MariaDB mariadb_up || exit 1
else
	echo "ERROR: MariaDB is not running on $DB_HOST:$DB_PORT and mariadbd is not installed." >&2
	echo "       Install it (Debian: apt-get install mariadb-server) or set VERENIGINGEN_DB_HOST/PORT." >&2
	exit 1
fi
