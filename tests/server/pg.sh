# PostgreSQL for a test, started in a temporary directory on a free loopback port and
# stopped on exit (sourced). As root, the cluster runs as nobody (initdb refuses root).
# Gives pg_start (sets PG_URL) and pg_stop. Exits 77 (skip) only when the PostgreSQL
# server programs are missing.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] && command -v pg_ctl >/dev/null 2>&1; then PGBIN=$(dirname "$(command -v pg_ctl)"); fi
PG_RUN=""
PGD=""

pg_stop() {
    if [ -n "$PGD" ] && [ -d "$PGD/data" ]; then
        $PG_RUN "$PGBIN/pg_ctl" -D "$PGD/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    [ -n "$PGD" ] && rm -rf "$PGD"
    PGD=""
}

pg_start() {
    if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
        echo "SKIP: PostgreSQL server programs (initdb, pg_ctl) are not installed (package postgresql)"
        exit 77
    fi
    PGD=$(mktemp -d /tmp/fwt-pg.XXXXXX)
    chmod 755 "$PGD"
    if [ "$(id -u)" = 0 ]; then
        chown nobody "$PGD"
        PG_RUN="runuser -u nobody --"
    fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    $PG_RUN "$PGBIN/initdb" -D "$PGD/data" -U fwt --auth=trust -E UTF8 --no-instructions >"$PGD/initdb.log" 2>&1 ||
        { cat "$PGD/initdb.log" >&2; echo "FAIL: initdb" >&2; exit 1; }
    $PG_RUN "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/server.log" -w -t 60 \
        -o "-p $port -k $PGD -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null ||
        { cat "$PGD/server.log" >&2; echo "FAIL: pg_ctl start" >&2; exit 1; }
    PG_URL="postgresql://fwt@127.0.0.1:$port/postgres"
    export PG_URL
}
