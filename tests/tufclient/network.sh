#!/bin/bash
# fwtrust-tuf-client transport: slow retrieval (minimum speed), endless data (size caps)
# against a local test server; HTTPS with a CA file, a pinned public key and a client
# certificate (mutual TLS) against nginx (scripts/serve-repo).
. "$(dirname "$0")/lib.sh"
C=$TUF_CLIENT
R=$T/repo
"$TREPO" "$R" --big 200
H=$(head -c 200 /dev/zero | tr '\0' x | sha256sum | cut -d' ' -f1)

# Slow retrieval: the target trickles at 1 byte/s; the client gives up after 2 s below 100 B/s.
serve "$R" "$T/log" --slow "/targets/$H.big.bin"
expect 0 "" "$C" --metadata-dir "$T/m" init "$R/metadata/1.root.json"
start=$(date +%s)
expect 1 "too slow" "$C" --low-speed-limit 100 --low-speed-time 2 --metadata-url "$URL/metadata" \
    --metadata-dir "$T/m" --target-name big.bin --target-base-url "$URL/targets" --target-dir "$T/t" download
took=$(($(date +%s) - start))
[ "$took" -lt 15 ] || fail "slow retrieval took ${took}s"
[ -z "$(ls "$T/t")" ] || fail "a partial target was left: $(ls "$T/t")"

# Endless data: timestamp.json never ends; aborted at the 16 KiB cap.
serve "$R" "$T/log2" --endless "/metadata/timestamp.json"
before=$(find "$T/m" -type f | sort | xargs sha256sum)
expect 1 "FWT_E_TOO_LARGE" timeout 20 "$C" --metadata-url "$URL/metadata" --metadata-dir "$T/m" refresh
[ "$before" = "$(find "$T/m" -type f | sort | xargs sha256sum)" ] || fail "endless data changed the metadata dir"
# ... and an endless target is cut at its length
serve "$R" "$T/log3" --endless "/targets/$H.big.bin"
expect 1 "FWT_E_TOO_LARGE" timeout 20 "$C" --metadata-url "$URL/metadata" --metadata-dir "$T/m" \
    --target-name big.bin --target-base-url "$URL/targets" --target-dir "$T/t" download

# Every metadata file has a cap: an endless root, snapshot or targets role is cut at its cap
# (the defaults, or --max-*-bytes), and nothing is stored.
serve "$R" "$T/log4" --endless "/metadata/2.root.json"
before=$(tree_hash "$T/m")
expect 1 "more than 512000 bytes" timeout 20 "$C" --metadata-url "$URL/metadata" --metadata-dir "$T/m" refresh
expect 1 "more than 4096 bytes" timeout 20 "$C" --max-root-bytes 4096 --metadata-url "$URL/metadata" \
    --metadata-dir "$T/m" refresh
[ "$before" = "$(tree_hash "$T/m")" ] || fail "an endless root changed the metadata dir"
M5=$T/m5
expect 0 "" "$C" --metadata-dir "$M5" init "$R/metadata/1.root.json"
serve "$R" "$T/log5" --endless "/metadata/2.snapshot.json" --endless "/metadata/2.targets.json"
expect 1 "FWT_E_TOO_LARGE" timeout 20 "$C" --metadata-url "$URL/metadata" --metadata-dir "$M5" refresh
[ ! -e "$M5/snapshot.json" ] || fail "an endless snapshot was stored"
serve "$R" "$T/log6" --endless "/metadata/2.targets.json"
expect 1 "FWT_E_TOO_LARGE" timeout 20 "$C" --metadata-url "$URL/metadata" --metadata-dir "$M5" refresh
[ ! -e "$M5/targets.json" ] || fail "an endless targets role was stored"
# the served files, with limits below their sizes
expect 1 "more than 100 bytes" "$C" --max-timestamp-bytes 100 --metadata-url "$URL/metadata" --metadata-dir "$M5" refresh
expect 1 "FWT_E_TOO_LARGE" "$C" --max-snapshot-bytes 100 --metadata-url "$URL/metadata" --metadata-dir "$M5" refresh
[ ! -e "$M5/targets.json" ] || fail "targets stored after a refused snapshot"

# HTTPS: CA file, pinned key, mutual TLS (nginx).
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || fail "nginx is not installed (scripts/install-deps)"
mkdir -p "$T/www"
cp -r "$R/metadata" "$R/targets" "$T/www/"
chmod -R a+rX "$T/www"
expect 0 "" "$SRC/scripts/serve-repo" start --root "$T/www" --state "$T/nginx" --mtls
. "$T/nginx/env"
PIN="sha256//$(openssl x509 -in "$T/nginx/server.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"
M=$T/tls
expect 0 "" "$C" --metadata-dir "$M" init "$R/metadata/1.root.json"
# no client certificate: the server refuses
expect 1 "FWT_E_NETWORK" "$C" --ca-file "$CA" --metadata-url "$HTTPS_URL/metadata" --metadata-dir "$M" refresh
# unknown CA: refused, and the hint names the option that fixes it
expect 1 "FWT_E_NETWORK" "$C" --client-cert "$CLIENT_CERT" --client-key "$CLIENT_KEY" \
    --metadata-url "$HTTPS_URL/metadata" --metadata-dir "$M" refresh
grep -qF "fwtrust-tuf-client: hint: the server's certificate is not signed by a trusted CA: name the CA certificate (PEM) that signed it with --ca FILE" "$T/.err" ||
    fail "no --ca hint: $(cat "$T/.err")"
# wrong pin: refused, the hint names --pinned-pubkey
expect 1 "FWT_E_NETWORK" "$C" --ca-file "$CA" --pinned-pubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" \
    --client-cert "$CLIENT_CERT" --client-key "$CLIENT_KEY" --metadata-url "$HTTPS_URL/metadata" --metadata-dir "$M" refresh
grep -qF "hint: the server's public key is not the one pinned by --pinned-pubkey" "$T/.err" || fail "no pin hint: $(cat "$T/.err")"
grep -qF -- "--ca FILE" "$T/.err" && fail "a pin failure hints at --ca"
# an unusable client certificate: the hint names --client-cert and --client-key
echo "not a certificate" >"$T/bad-cert.pem"
expect 1 "FWT_E_NETWORK" "$C" --ca "$CA" --client-cert "$T/bad-cert.pem" --client-key "$CLIENT_KEY" \
    --metadata-url "$HTTPS_URL/metadata" --metadata-dir "$M" refresh
grep -qF "hint: the client certificate or key cannot be used: check --client-cert FILE and --client-key FILE" "$T/.err" ||
    fail "no client certificate hint: $(cat "$T/.err")"
[ ! -e "$M/timestamp.json" ] || fail "metadata stored although TLS failed"
# all right: CA, pin, client certificate
expect 0 "" "$C" --ca-file "$CA" --pinned-pubkey "$PIN" --client-cert "$CLIENT_CERT" --client-key "$CLIENT_KEY" \
    --metadata-url "$HTTPS_URL/metadata" --metadata-dir "$M" --target-name a.bin --target-base-url "$HTTPS_URL/targets" \
    --target-dir "$T/tt" download
printf 'hello, device\n' | cmp - "$T/tt/a.bin" || fail "HTTPS download"
echo "network: ok"
