#!/bin/bash
# Two fwtrust-server processes share one PostgreSQL behind nginx (TLS ends at nginx,
# which passes the verified client certificate on; the servers listen on loopback):
# both answer, a replay is refused whichever server gets it, both reconnect after a
# PostgreSQL restart, one server gone leaves
# the fleet served, a revoked device is refused by the API and (after the CRL reload)
# by nginx's TLS layer. Run by with_pg.sh.
. "$(dirname "$0")/lib.sh"
[ -n "${FWT_TEST_DB_URL:-}" ] || fail "run through with_pg.sh"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "SKIP: nginx is not installed (nginx-light)"; exit 77; }
srv_init checkin_burst=100 # d1 checks in 11 times (all may succeed after the restart)
srv_start --plain-listen 127.0.0.1:0
A_PID=$SRV_PID A_PLAIN=$(awk '/^plain/{print $2}' "$T/ready")
srv_start --plain-listen 127.0.0.1:0
B_PID=$SRV_PID B_PLAIN=$(awk '/^plain/{print $2}' "$T/ready")
NP=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
N=$T/nginx
mkdir -p "$N"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat >"$N/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
daemon on;
pid $N/nginx.pid;
error_log $N/error.log;
events { worker_connections 256; }
http {
    access_log $N/access.log;
    client_body_temp_path $N/body;
    proxy_temp_path $N/proxy;
    fastcgi_temp_path $N/fastcgi;
    uwsgi_temp_path $N/uwsgi;
    scgi_temp_path $N/scgi;
    upstream fleet { server 127.0.0.1:$A_PLAIN max_fails=1 fail_timeout=30s; server 127.0.0.1:$B_PLAIN max_fails=1 fail_timeout=30s; }
    server {
        listen 127.0.0.1:$NP ssl;
        ssl_certificate $D/ca/server.pem;
        ssl_certificate_key $D/ca/server.key;
        ssl_client_certificate $D/ca/ca.pem;
        ssl_verify_client optional;
        ssl_crl $D/ca/crl.pem;
        client_max_body_size 64k;
        location / {
            proxy_pass http://fleet;
            proxy_set_header X-SSL-Client-Cert \$ssl_client_escaped_cert;
        }
    }
}
CONF
"$NGINX" -c "$N/nginx.conf" -p "$N" 2>"$N/start.err" || { cat "$N/start.err" "$N/error.log" >&2; fail "nginx did not start"; }
trap '"$NGINX" -c "$N/nginx.conf" -p "$N" -s stop 2>/dev/null; fwt_test_cleanup' EXIT
G=https://127.0.0.1:$NP
for _ in $(seq 50); do curl -s -o /dev/null --cacert "$CA" "$G/v1/health" && break; sleep 0.1; done

# both servers answer
for i in 1 2 3 4 5 6; do
    curl -s -D - -o /dev/null --cacert "$CA" "$G/v1/health" | tr -d '\r' | sed -n 's/^X-Fwtrust-Instance: //Ip'
done | sort -u >"$T/instances"
[ "$(wc -l <"$T/instances")" = 2 ] || fail "not both servers answered: $(cat "$T/instances")"

# enrollment and check-ins through nginx; a replay refused by whichever server gets it
for i in 1 2; do sim 200 "$T/e" enroll "$G" "$CA" "$(token)" board "SN-$i" "$T/d$i"; done
for i in 1 2 3 4; do sim 200 "$T/c" checkin "$G" "$CA" "$T/d1"; done
for i in 1 2; do sim 409 "$T/c" checkin "$G" "$CA" "$T/d1" --stale; done
# a client-sent X-SSL-Client-Cert header is replaced by nginx (no certificate: 401)
enc=$("$PY" -c 'import sys,urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read()))' "$T/d1/cert.pem")
curl_code 401 "$G/v1/checkin" -H "X-SSL-Client-Cert: $enc" -d '{}'

# PostgreSQL restarts: the servers reconnect (a request may see 503 meanwhile, none is lost silently)
$FWT_TEST_PG_RUN "$FWT_TEST_PG_BIN/pg_ctl" -D "$FWT_TEST_PG_DIR/data" -m fast -w restart >/dev/null || fail "pg_ctl restart"
ok=0
for i in 1 2 3 4 5 6; do
    "$SIM" checkin "$G" "$CA" "$T/d1" >"$T/c" 2>&1 || true
    case $(head -n 1 "$T/c") in "HTTP 200") ok=$((ok + 1)) ;; "HTTP 503") ;; *) cat "$T/c" >&2; fail "after the restart" ;; esac
done
[ "$ok" -ge 4 ] || fail "the servers did not reconnect to PostgreSQL ($ok of 6 check-ins)"

# one server gone: the fleet is still served
kill "$A_PID"; wait "$A_PID" 2>/dev/null || true
for i in 1 2 3; do sim 200 "$T/c" checkin "$G" "$CA" "$T/d2"; done

# revocation: the API refuses at once; nginx's TLS layer after the CRL reload
"$SERVER" --dir "$D" device revoke "$(cat "$T/d2/id")" >/dev/null
sim 403 "$T/c" checkin "$G" "$CA" "$T/d2"
grep -q revoked "$T/c" || fail "API refusal: $(cat "$T/c")"
"$NGINX" -c "$N/nginx.conf" -p "$N" -s reload
sleep 1
code=$(curl -s -o "$T/.body" -w '%{http_code}' --cacert "$CA" --cert "$T/d2/cert.pem" --key "$T/d2/key.pem" "$G/v1/health" || true)
[ "$code" = 400 ] || [ "$code" = 000 ] || fail "nginx let a revoked certificate through (HTTP $code)"
sim 200 "$T/c" checkin "$G" "$CA" "$T/d1"
srv_stop # B; A's exit is in the same log
echo "server behind nginx: ok"
