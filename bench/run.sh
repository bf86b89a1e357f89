#!/usr/bin/env bash
# run.sh: `make bench`. Measures the CSE on loopback with wrk (RETRIEVE of cnt/la, durable CREATE
# of contentInstances, HTTP and HTTPS) against nginx serving the same body, then runs the
# in-process micro-benchmarks. See bench/README.md for what each figure means.
#
# Usage: bench/run.sh BUILD_DIR [--nginx-only]
#   --nginx-only   measure only the nginx reference (no m2msec needed; throwaway certificate)
# Environment: BENCH_SECONDS (10), BENCH_THREADS (2), BENCH_CONNECTIONS (64),
#   BENCH_MAX_ERROR_PCT (1: exit 3 when a scenario has more errors), BENCH_OUT (BUILD/bench-results),
#   BENCH_BUDGET_SECONDS (300: then SIGTERM and clean-up, SIGKILL 15 s later).
set -eu

usage() {
    echo "usage: $0 BUILD_DIR [--nginx-only]" >&2
    exit 2
}
[ $# -ge 1 ] || usage
BUILD=$1
shift
NGINX_ONLY=0
for arg in "$@"; do
    case $arg in
    --nginx-only) NGINX_ONLY=1 ;;
    *) usage ;;
    esac
done

# Bounded time: re-run under a watchdog that sends SIGTERM (our trap cleans up) and, 15 s later,
# SIGKILL. --foreground keeps the script in the terminal's process group so Ctrl-C still works.
BUDGET=${BENCH_BUDGET_SECONDS:-300}
if [ -z "${M2M_BENCH_WATCHDOG:-}" ]; then
    export M2M_BENCH_WATCHDOG=1
    exec timeout --foreground -k 15 "$BUDGET" bash "$0" "$BUILD" "$@"
fi

DURATION=${BENCH_SECONDS:-10}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
MAX_ERR_PCT=${BENCH_MAX_ERROR_PCT:-1}
LA_TARGET=250 # bytes of the cnt/la response body
ORIGIN=Cbench
HERE=$(cd "$(dirname "$0")" && pwd)

die() {
    echo "bench: $*" >&2
    exit 1
}

for tool in wrk curl python3 timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh bench installs it)"
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx not found (scripts/deps.sh bench installs nginx-light)"
M2MSEC=$BUILD/m2msec
if [ "$NGINX_ONLY" = 0 ] && [ ! -x "$M2MSEC" ]; then
    die "$M2MSEC not built (or use --nginx-only)"
fi

# Work files live next to the build, not in /tmp: /tmp may be a tmpfs, where fsync is free and
# durable-create figures would mean nothing. nginx needs an absolute prefix.
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
OUT=${BENCH_OUT:-$BUILD/bench-results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d "$BUILD/bench-tmp.XXXXXX")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')

CSE_PID=""
NGINX_PID=""
BG_PID=""

# stop_pid PID GRACE_TENTHS: SIGTERM, wait up to GRACE tenths of a second, then SIGKILL; reaps.
stop_pid() {
    local pid=$1 grace=$2 i=0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ $i -lt "$grace" ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# The master stops its workers on SIGTERM; if it must be killed, its workers go first (by
# parent pid, while they still have it as their parent).
stop_nginx() {
    [ -n "$NGINX_PID" ] || return 0
    local i=0
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    while kill -0 "$NGINX_PID" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$NGINX_PID" 2>/dev/null; then
        pkill -KILL -P "$NGINX_PID" 2>/dev/null || true
        kill -KILL "$NGINX_PID" 2>/dev/null || true
    fi
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
}

stop_cse() {
    [ -n "$CSE_PID" ] || return 0
    stop_pid "$CSE_PID" 50
    CSE_PID=""
}

cleanup() {
    local rc=$?
    set +e
    [ -n "$BG_PID" ] && stop_pid "$BG_PID" 20
    stop_nginx
    stop_cse
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'echo "bench: stopped (time budget of ${BUDGET}s or SIGTERM)" >&2; exit 143' TERM

# run_bg OUT CMD...: runs CMD with its output to the file OUT as a child the trap can kill;
# returns its exit status. (Redirecting the call instead would also redirect the trap's output.)
run_bg() {
    local out=$1 rc=0
    shift
    "$@" >"$out" 2>&1 &
    BG_PID=$!
    wait "$BG_PID" || rc=$?
    BG_PID=""
    return $rc
}

free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# wait_http URL PID NAME: until URL answers at all (any status), or PID dies, or 20 s pass.
wait_http() {
    local url=$1 pid=$2 name=$3 i=0
    while [ $i -lt 200 ]; do
        kill -0 "$pid" 2>/dev/null || die "$name exited during start-up"
        curl -sk --max-time 1 -o /dev/null "$url" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    die "$name did not answer on $url within 20 s"
}

# ---------------------------------------------------------------------------------------------
# The CSE: start, parse READY, provision AE "bench", container "cnt" (mni 100), one instance.

start_cse() {
    local data=$TMP/cse-data line i=0
    mkdir -p "$data"
    "$M2MSEC" cse --data-dir "$data" --http 127.0.0.1:0 --https 127.0.0.1:0 --log-level warn \
        >"$TMP/cse.out" 2>"$TMP/cse.err" &
    CSE_PID=$!
    while ! line=$(grep -m1 '^READY ' "$TMP/cse.out"); do
        if ! kill -0 "$CSE_PID" 2>/dev/null; then
            tail -n 20 "$TMP/cse.err" >&2
            die "m2msec exited before READY"
        fi
        [ $i -lt 300 ] || die "no READY line from m2msec within 30 s"
        sleep 0.1
        i=$((i + 1))
    done
    [[ $line =~ (^|\ )http=127\.0\.0\.1:([0-9]+) ]] || die "no http= in '$line'"
    CSE_HTTP=${BASH_REMATCH[2]}
    [[ $line =~ (^|\ )https=127\.0\.0\.1:([0-9]+) ]] || die "no https= in '$line'"
    CSE_HTTPS=${BASH_REMATCH[2]}
    CERT=$data/pki/server.pem
    KEY=$data/pki/server.key
    { [ -r "$CERT" ] && [ -r "$KEY" ]; } || die "dev certificate not found in $data/pki"
}

RI_SEQ=0
RSC=""
# m2m METHOD URL TY BODY OUT: one request as $ORIGIN (TY empty: no body); sets RSC and CODE.
m2m() {
    local method=$1 url=$2 ty=$3 body=$4 out=$5
    RI_SEQ=$((RI_SEQ + 1))
    local args=(-sS -k --max-time 5 -X "$method" -o "$out" -D "$TMP/hdr" -w '%{http_code}'
        -H "X-M2M-Origin: $ORIGIN" -H "X-M2M-RI: bench-prov-$RI_SEQ" -H "X-M2M-RVI: 3"
        -H "Accept: application/json")
    if [ -n "$ty" ]; then
        args+=(-H "Content-Type: application/json;ty=$ty" --data-binary "$body")
    fi
    CODE=$(curl "${args[@]}" "$url") || die "$method $url: curl failed"
    RSC=$(tr -d '\r' <"$TMP/hdr" | awk -F': *' 'tolower($1) == "x-m2m-rsc" { print $2 }')
}

# expect RSC METHOD URL TY BODY OUT: m2m, and fail unless the response status code is RSC.
expect() {
    local want=$1
    shift
    m2m "$@"
    [ "$RSC" = "$want" ] || die "$1 $2: X-M2M-RSC '$RSC' (HTTP $CODE), want $want: $(head -c 300 "$5")"
}

provision() {
    local base=http://127.0.0.1:$CSE_HTTP/cse-in r=$TMP/resp pad len
    expect 2001 POST "$base" 2 '{"m2m:ae":{"rn":"bench","api":"Nbench","rr":false,"srv":["3"]}}' "$r"
    expect 2001 POST "$base/bench" 3 '{"m2m:cnt":{"rn":"cnt","mni":100}}' "$r"
    # A one-character instance tells how long the response is without content; the second
    # instance pads con so that the la response comes to about LA_TARGET bytes.
    expect 2001 POST "$base/bench/cnt" 4 '{"m2m:cin":{"cnf":"text/plain:0","con":"x"}}' "$r"
    expect 2000 GET "$base/bench/cnt/la" "" "" "$r"
    len=$(wc -c <"$r")
    pad=$((LA_TARGET - len + 1))
    [ $pad -ge 1 ] || pad=1
    expect 2001 POST "$base/bench/cnt" 4 \
        "{\"m2m:cin\":{\"cnf\":\"text/plain:0\",\"con\":\"$(head -c $pad /dev/zero | tr '\0' x)\"}}" "$r"
    expect 2000 GET "$base/bench/cnt/la" "" "" "$TMP/la.json"
    # The HTTPS listener must serve the same resource to an unauthenticated client too.
    expect 2000 GET "https://127.0.0.1:$CSE_HTTPS/cse-in/bench/cnt/la" "" "" "$r"
}

# ---------------------------------------------------------------------------------------------
# nginx-only mode: a body shaped like an la response and a throwaway certificate.

fake_la_and_cert() {
    command -v openssl >/dev/null || die "openssl not found"
    python3 -c '
import json, sys
cin = {"rn": "4-20250101T000000123456", "ty": 4, "ri": "4-bench0000000001", "pi": "3-bench00001",
       "ct": "20250101T000000,123456", "lt": "20250101T000000,123456", "et": "20260101T000000",
       "st": 1, "cs": 0, "cnf": "text/plain:0", "con": ""}
n = int(sys.argv[1]) - len(json.dumps({"m2m:cin": cin}, separators=(",", ":")))
cin["con"] = "x" * max(n, 1)
cin["cs"] = len(cin["con"])
sys.stdout.write(json.dumps({"m2m:cin": cin}, separators=(",", ":")))' "$LA_TARGET" >"$TMP/la.json"
    CERT=$TMP/cert.pem
    KEY=$TMP/key.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj /CN=127.0.0.1 -keyout "$KEY" -out "$CERT" 2>/dev/null || die "openssl req failed"
}

# ---------------------------------------------------------------------------------------------
# nginx: own prefix, current user, no daemon, a worker per core, loopback only.

start_nginx() {
    local ng=$TMP/nginx user_line=""
    mkdir -p "$ng/tmp" "$ng/html/cse-in/bench/cnt"
    cp "$TMP/la.json" "$ng/html/cse-in/bench/cnt/la"
    read -r NG_HTTP NG_HTTPS <<<"$(free_ports 2)"
    # As root the workers would switch to "nobody" and could not read our files.
    [ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
    sed -e "s#@PREFIX@#$ng#g" -e "s#@HTTP_PORT@#$NG_HTTP#g" -e "s#@HTTPS_PORT@#$NG_HTTPS#g" \
        -e "s#@CERT@#$CERT#g" -e "s#@KEY@#$KEY#g" -e "s#@USER_LINE@#$user_line#g" \
        "$HERE/nginx.conf.in" >"$ng/nginx.conf"
    "$NGINX" -p "$ng/" -c "$ng/nginx.conf" -e "$ng/error.log" >"$ng/stdout" 2>&1 &
    NGINX_PID=$!
    wait_http "http://127.0.0.1:$NG_HTTP/" "$NGINX_PID" nginx
    wait_http "https://127.0.0.1:$NG_HTTPS/" "$NGINX_PID" nginx
}

# check_same URL: the server answers 200 with exactly the bytes of la.json.
check_same() {
    local code
    code=$(curl -sS -k --max-time 5 -o "$TMP/same" -w '%{http_code}' "$1") || die "GET $1 failed"
    [ "$code" = 200 ] || die "GET $1: HTTP $code"
    cmp -s "$TMP/same" "$TMP/la.json" || die "GET $1: body differs from the CSE's la"
}

# tls_line NAME PORT: the negotiated protocol and cipher, so HTTPS rows compare like with like.
tls_line() {
    command -v openssl >/dev/null || return 0
    local s
    s=$(timeout 5 openssl s_client -connect "127.0.0.1:$2" -brief </dev/null 2>&1 |
        awk -F': *' '/^Protocol version/ { p = $2 } /^Ciphersuite/ { c = $2 }
                     END { print p " " c }') || true
    printf '  tls %-6s %s\n' "$1" "$s"
}

# ---------------------------------------------------------------------------------------------
# wrk runs. Each result goes to OUT/NAME.txt; the BENCH line of report.lua is parsed.

declare -A RPS P99 ERRS ERRPCT
ORDER=()
FAILED=0

# bench NAME PID URL WRK_ARGS...: one wrk run of DURATION against URL; PID must survive it.
bench() {
    local name=$1 pid=$2 url=$3 line rc=0
    shift 3
    echo "bench: $name ($DURATION s) ..." >&2
    run_bg "$OUT/$name.txt" timeout $((DURATION + 15)) wrk -t"$THREADS" -c"$CONNS" \
        -d"${DURATION}s" --latency --timeout 5s "$@" "$url" || rc=$?
    kill -0 "$pid" 2>/dev/null || die "$name: the server died under load (see $OUT/$name.txt)"
    line=$(grep '^BENCH ' "$OUT/$name.txt") || die "$name: wrk failed (exit $rc): $(tail -n 3 "$OUT/$name.txt")"
    local req rps p99 serr kerr
    req=$(field requests "$line")
    rps=$(field rps "$line")
    p99=$(field p99_us "$line")
    serr=$(field status_errors "$line")
    kerr=$(field socket_errors "$line")
    ORDER+=("$name")
    RPS[$name]=$rps
    P99[$name]=$(awk -v u="$p99" 'BEGIN { printf "%.2f ms", u / 1000 }')
    ERRS[$name]=$((serr + kerr))
    ERRPCT[$name]=$(awk -v e=$((serr + kerr)) -v n="$req" 'BEGIN { printf "%.2f", n ? 100 * e / n : 100 }')
    if awk -v p="${ERRPCT[$name]}" -v m="$MAX_ERR_PCT" 'BEGIN { exit !(p > m) }'; then
        FAILED=1
    fi
}

field() { sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p" <<<" $2"; }

ratio() {
    [ -n "${RPS[$1]:-}" ] && [ -n "${RPS[$2]:-}" ] || return 0
    awk -v a="${RPS[$1]}" -v b="${RPS[$2]}" -v n="$3" \
        'BEGIN { if (b > 0) printf "  %-6s CSE/nginx = %.3f   (target >= 0.50)\n", n, a / b }'
}

print_table() {
    echo
    echo "m2msec bench: $(nproc) cores, wrk -t$THREADS -c$CONNS -d${DURATION}s, loopback," \
        "la body $(wc -c <"$TMP/la.json") bytes, data dir on $(findmnt -n -o FSTYPE -T "$TMP" 2>/dev/null || echo '?')"
    echo "load average before the run: $LOAD_BEFORE (other work on the machine skews every row)"
    printf '%-28s %12s %12s %18s\n' scenario requests/s "p99" "errors (share)"
    local n
    for n in "${ORDER[@]}"; do
        printf '%-28s %12s %12s %18s\n' "$n" "${RPS[$n]}" "${P99[$n]}" "${ERRS[$n]} (${ERRPCT[$n]}%)"
    done
    echo
    echo "RETRIEVE cnt/la relative to nginx serving the same bytes:"
    ratio a-cse-get-la-http c-nginx-get-http http
    ratio a-cse-get-la-https c-nginx-get-https https
    echo "errors = HTTP status >= 400 plus socket errors (connect/read/write/timeout); raw wrk" \
        "output in $OUT/"
}

# ---------------------------------------------------------------------------------------------

main() {
    local hdr=(-H "X-M2M-Origin: $ORIGIN" -H "X-M2M-RI: bench-la" -H "X-M2M-RVI: 3"
        -H "Accept: application/json")
    if [ "$NGINX_ONLY" = 1 ]; then
        fake_la_and_cert
    else
        start_cse
        echo "bench: CSE ready on http $CSE_HTTP, https $CSE_HTTPS" >&2
        provision
    fi
    start_nginx
    check_same "http://127.0.0.1:$NG_HTTP/cse-in/bench/cnt/la"
    check_same "https://127.0.0.1:$NG_HTTPS/cse-in/bench/cnt/la"
    echo "bench: nginx ready on http $NG_HTTP, https $NG_HTTPS; la body $(wc -c <"$TMP/la.json") bytes" >&2
    {
        [ "$NGINX_ONLY" = 1 ] || tls_line cse "$CSE_HTTPS"
        tls_line nginx "$NG_HTTPS"
    } >&2

    if [ "$NGINX_ONLY" = 0 ]; then
        bench a-cse-get-la-http "$CSE_PID" "http://127.0.0.1:$CSE_HTTP/cse-in/bench/cnt/la" \
            -s "$HERE/report.lua" "${hdr[@]}"
        bench a-cse-get-la-https "$CSE_PID" "https://127.0.0.1:$CSE_HTTPS/cse-in/bench/cnt/la" \
            -s "$HERE/report.lua" "${hdr[@]}"
    fi
    bench c-nginx-get-http "$NGINX_PID" "http://127.0.0.1:$NG_HTTP/cse-in/bench/cnt/la" \
        -s "$HERE/report.lua" "${hdr[@]}"
    bench c-nginx-get-https "$NGINX_PID" "https://127.0.0.1:$NG_HTTPS/cse-in/bench/cnt/la" \
        -s "$HERE/report.lua" "${hdr[@]}"
    stop_nginx
    if [ "$NGINX_ONLY" = 0 ]; then
        # The create check first: one POST must give 2001, or the run would only count errors.
        expect 2001 POST "http://127.0.0.1:$CSE_HTTP/cse-in/bench/cnt" 4 \
            '{"m2m:cin":{"cnf":"text/plain:0","con":"probe"}}' "$TMP/resp"
        export BENCH_CNT_PATH=/cse-in/bench/cnt BENCH_ORIGIN=$ORIGIN
        bench b-cse-create-cin-http "$CSE_PID" "http://127.0.0.1:$CSE_HTTP/cse-in/bench/cnt" \
            -s "$HERE/create_cin.lua"
        bench b-cse-create-cin-https "$CSE_PID" "https://127.0.0.1:$CSE_HTTPS/cse-in/bench/cnt" \
            -s "$HERE/create_cin.lua"
        # mni 100 must have held through thousands of creates.
        expect 2000 GET "http://127.0.0.1:$CSE_HTTP/cse-in/bench/cnt" "" "" "$TMP/resp"
        echo "bench: after the creates: $(grep -o '"cni":[0-9]*' "$TMP/resp" || echo 'no cni')" >&2
        stop_cse
    fi

    print_table | tee "$OUT/summary.txt"

    if [ -x "$BUILD/bench/acp_bench" ]; then
        echo
        echo "acp_bench (in-process access decisions):"
        run_bg "$OUT/acp_bench.txt" timeout 45 "$BUILD/bench/acp_bench" ||
            echo "bench: acp_bench failed (exit $?)" >&2
        cat "$OUT/acp_bench.txt"
    fi
    if [ "$FAILED" = 1 ]; then
        echo "bench: INVALID: a scenario had more than $MAX_ERR_PCT% errors" >&2
        exit 3
    fi
}

main

# ---- TLS-PSK handshakes (issue 4, appended): full handshakes per second, no resumption, against
# the CSE's HTTPS listener and against the bare GnuTLS PSK server inside bench/tls_psk_bench.c.
tls_psk_scenario() {
    [ "$NGINX_ONLY" = 1 ] && return 0
    local here out dir port pid
    here=$(cd "$(dirname "$0")" && pwd)
    out=${BENCH_OUT:-$BUILD/bench-results}
    mkdir -p "$out"
    cc -std=gnu17 -O2 -D_GNU_SOURCE "$here/tls_psk_bench.c" -lgnutls -lpthread \
        -o "$out/tls_psk_bench" || { echo "bench: cannot build tls_psk_bench" >&2; return 1; }
    dir=$(mktemp -d)
    "$M2MSEC" cred add-psk --data-dir "$dir" --identity bench@m2msec.example.com \
        --key-hex 000102030405060708090a0b0c0d0e0f --bind Cbench >/dev/null || return 1
    "$M2MSEC" cse --data-dir "$dir" --http off --https 127.0.0.1:0 --log-level warn \
        >"$dir/out" 2>"$dir/err" &
    pid=$!
    for _ in $(seq 1 100); do grep -q '^READY' "$dir/out" 2>/dev/null && break; sleep 0.1; done
    port=$(sed -n 's/^READY.*https=[0-9.]*:\([0-9]*\).*/\1/p' "$dir/out")
    echo
    echo "TLS-PSK full handshakes per second (2 client threads; CSE vs bare GnuTLS):"
    for suite in psk ecdhe-psk tls13; do
        timeout 60 "$out/tls_psk_bench" --cse "$port" --seconds 5 --clients 2 --suite "$suite"
        timeout 60 "$out/tls_psk_bench" --bare --seconds 5 --clients 2 --suite "$suite"
    done | tee "$out/tls_psk.txt"
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
tls_psk_scenario

# ---- MEF (issue 5, appended): enrolments per second (full TLS-PSK MEF Handshake with a Kpm,
# exporter, CREATE <enrolment>, close) and fetchCredentials per second (keep-alive sessions of an
# Enrolment Target), both with the plain-GnuTLS client in bench/mef_bench.c.
mef_scenario() {
    [ "$NGINX_ONLY" = 1 ] && return 0
    local here out dir port pid keid
    here=$(cd "$(dirname "$0")" && pwd)
    out=${BENCH_OUT:-$BUILD/bench-results}
    mkdir -p "$out"
    cc -std=gnu17 -O2 -D_GNU_SOURCE "$here/mef_bench.c" -lgnutls -lpthread \
        -o "$out/mef_bench" || { echo "bench: cannot build mef_bench" >&2; return 1; }
    dir=$(mktemp -d -p "$out" mef.XXXXXX)
    echo 000102030405060708090a0b0c0d0e0f >"$dir/dev.key"
    echo 101112131415161718191a1b1c1d1e1f >"$dir/in.key"
    "$M2MSEC" mef init --data "$dir" >/dev/null &&
        "$M2MSEC" mef add-kpm --data "$dir" --kpmid dev@mef.m2msec.test --key-file "$dir/dev.key" \
            --identity Cbench >/dev/null &&
        "$M2MSEC" mef add-kpm --data "$dir" --kpmid in@mef.m2msec.test --key-file "$dir/in.key" \
            --identity /id-in >/dev/null &&
        "$M2MSEC" mef add-target --data "$dir" --id /id-in --fqdn in.m2msec.test >/dev/null &&
        "$M2MSEC" mef allow --data "$dir" --enrolee Cbench --target /id-in --suid 22 >/dev/null ||
        { echo "bench: MEF set-up failed" >&2; return 1; }
    "$M2MSEC" mef serve --data "$dir" --listen 127.0.0.1:0 --set log.level=warn \
        >"$dir/out" 2>"$dir/err" &
    pid=$!
    for _ in $(seq 1 100); do grep -q '^READY' "$dir/out" 2>/dev/null && break; sleep 0.1; done
    port=$(sed -n 's/^READY mef=[0-9.]*:\([0-9]*\).*/\1/p' "$dir/out")
    [ -n "$port" ] || { echo "bench: the MEF did not start" >&2; kill "$pid"; return 1; }
    echo
    echo "MEF (2 client threads, TLS 1.2 PSK/ECDHE-PSK):"
    {
        timeout 60 "$out/mef_bench" --port "$port" --kpmid dev@mef.m2msec.test \
            --key 000102030405060708090a0b0c0d0e0f --origin Cbench --mode enrol --seconds 5
        keid=$("$M2MSEC" client --url "https://127.0.0.1:$port" \
            --servername mef.m2msec.test --ca "$dir/ca.pem" --psk-identity dev@mef.m2msec.test \
            --psk-hex 000102030405060708090a0b0c0d0e0f --from Cbench mef-enrol 2>/dev/null |
            sed -n 's/^KeID *//p' | head -1)
        timeout 60 "$out/mef_bench" --port "$port" --kpmid in@mef.m2msec.test \
            --key 101112131415161718191a1b1c1d1e1f --origin /id-in --mode fetch \
            --keid "$keid" --suid 22 --seconds 5
    } | tee "$out/mef.txt"
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -rf "$dir"
}
mef_scenario
