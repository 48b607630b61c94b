#!/usr/bin/env bash
# cluster.sh [options] - run our three roles (mailstore, smtp, pop3) in three JVMs clustered over
# Hazelcast on 127.0.0.1, wait for /readyz of each, measure SMTP 1 KiB x 20 sessions with
# /work/shared/bench/smtp_load.sh, print msgs/s (next to the embedded figure if given), stop them.
#
#   --reps N          repetitions, median printed (default 3, 1..9)
#   --messages N      messages per run, total over the 20 sessions (default 6000)
#   --warmup N        unrecorded messages first (default 30000, as run.sh: three JITs to warm)
#   --embedded X      msgs/s of the same workload on the single-JVM server (e.g. from run.sh)
#   --jar PATH        default: deploy/target/mailserver.jar (built if missing)
#   --keep            keep the work directory (/tmp/mailbench-cluster.*)
#
# Ports: SMTP 32525, POP3 32110, HTTP 38025, management 38081 (mailstore) / 38082 (smtp) /
# 38083 (pop3), Hazelcast 35701-35703 with a private cluster name, so it never joins anybody
# else's cluster (env BENCH_SMTP_PORT, BENCH_POP3_PORT, BENCH_HTTP_PORT, BENCH_MGMT_PORT,
# BENCH_HZ_PORT move them). Each load run holds flock /tmp/bench.lock and lasts <= ~20 s.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# The shared load scripts beside the repository (../shared/bench), wherever it is checked out.
SHARED=${BENCH_SHARED:-$(cd "$(dirname "$0")/../../../shared/bench" 2>/dev/null && pwd || echo /work/shared/bench)}
LOCK=${BENCH_LOCK:-/tmp/bench.lock}
JAR=${BENCH_JAR:-$ROOT/deploy/target/mailserver.jar}
SMTP_PORT=${BENCH_SMTP_PORT:-32525} POP3_PORT=${BENCH_POP3_PORT:-32110}
HTTP_PORT=${BENCH_HTTP_PORT:-38025} MGMT_PORT=${BENCH_MGMT_PORT:-38081} HZ_PORT=${BENCH_HZ_PORT:-35701}
REPS=3 MSGS=6000 WARM=30000 EMBEDDED="" KEEP=0 RUN_LIMIT=20

die() { echo "cluster.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --reps) REPS=${2:?}; shift ;;
    --messages) MSGS=${2:?}; shift ;;
    --warmup) WARM=${2:?}; shift ;;
    --embedded) EMBEDDED=${2:?}; shift ;;
    --jar) JAR=${2:?}; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
for v in REPS MSGS WARM SMTP_PORT POP3_PORT HTTP_PORT MGMT_PORT HZ_PORT; do
  case ${!v} in ''|*[!0-9]*) die "$v must be a number, got '${!v}'" ;; esac
done
{ [ "$REPS" -ge 1 ] && [ "$REPS" -le 9 ]; } || die "--reps must be 1..9"
{ [ "$MSGS" -ge 1 ] && [ "$MSGS" -le 200000 ]; } || die "--messages must be 1..200000"
[ "$WARM" -le 200000 ] || die "--warmup must be 0..200000"
case $EMBEDDED in ''|*[!0-9.]*) [ -z "$EMBEDDED" ] || die "--embedded must be a number" ;; esac

WORK=$(mktemp -d /tmp/mailbench-cluster.XXXXXX)
ROLES=(mailstore smtp pop3)
declare -A PIDS=()
cleanup() {
  local rc=$? r p
  trap - EXIT INT TERM
  for r in pop3 smtp mailstore; do
    p=${PIDS[$r]:-}; [ -n "$p" ] && kill "$p" 2>/dev/null
  done
  for r in pop3 smtp mailstore; do
    p=${PIDS[$r]:-}; [ -n "$p" ] || continue
    for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { echo "$r (pid $p) did not stop in 15 s: SIGKILL" >&2; kill -9 "$p"; }
  done
  if [ "$KEEP" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
mgmt_port() { case $1 in mailstore) echo "$MGMT_PORT" ;; smtp) echo $((MGMT_PORT + 1)) ;; pop3) echo $((MGMT_PORT + 2)) ;; esac; }
hz_port() { case $1 in mailstore) echo "$HZ_PORT" ;; smtp) echo $((HZ_PORT + 1)) ;; pop3) echo $((HZ_PORT + 2)) ;; esac; }
cpu_s() { awk -v k="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); split($0, f, " "); printf "%.1f", (f[12]+f[13])/k }' "/proc/$1/stat" 2>/dev/null; }
rss_mb() { awk '/^VmRSS:/{printf "%d", $2/1024}' "/proc/$1/status" 2>/dev/null; }

[ -f "$JAR" ] || { echo "building $JAR ..."; (cd "$ROOT" && mvn -B -q -o -DskipTests package) || die "build failed"; }
for p in "$SMTP_PORT" "$POP3_PORT" "$HTTP_PORT" "$MGMT_PORT" $((MGMT_PORT + 1)) $((MGMT_PORT + 2)) \
         "$HZ_PORT" $((HZ_PORT + 1)) $((HZ_PORT + 2)); do
  port_free "$p" || die "port $p is in use"
done

python3 - "$WORK/config.json" "$WORK/data" "$SMTP_PORT" "$POP3_PORT" "$HTTP_PORT" <<'EOF' || die "cannot write config"
import json, sys
f, data, sp, pp, hp = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
cfg = {"hostname": "bench.test", "domains": ["bench.test"], "dataDir": data,
       "smtp": {"host": "127.0.0.1", "port": sp, "submissionPort": -1, "smtpsPort": -1,
                "maxConnectionsPerIp": 1000, "shutdownGraceSeconds": 1},
       "pop3": {"host": "127.0.0.1", "port": pp, "pop3sPort": -1, "allowPlaintextAuth": True,
                "maxConnectionsPerIp": 1000},
       "http": {"host": "127.0.0.1", "port": hp},
       "accounts": [{"address": a, "password": "pass"} for a in ("user@bench.test", "sink@bench.test")]}
json.dump(cfg, open(f, "w"), indent=1)
EOF

CLUSTER_NAME="bench-$$-$(date +%s)"
start_role() { # role
  local r=$1
  # shellcheck disable=SC2086  # BENCH_JAVA_OPTS is a list of JVM options
  MAIL_CLUSTER_NAME=$CLUSTER_NAME MAIL_CLUSTER_HOST=127.0.0.1 MAIL_CLUSTER_PORT=$(hz_port "$r") \
  MAIL_CLUSTER_MEMBERS=127.0.0.1:$HZ_PORT MAIL_MANAGEMENT_HOST=127.0.0.1 MAIL_MANAGEMENT_PORT=$(mgmt_port "$r") \
    java ${BENCH_JAVA_OPTS:-} -jar "$JAR" --config "$WORK/config.json" --roles "$r" --cluster >"$WORK/$r.log" 2>&1 &
  PIDS[$r]=$!
}
wait_ready() { # role seconds
  local r=$1 i
  for i in $(seq 1 $(($2 * 2))); do
    kill -0 "${PIDS[$r]}" 2>/dev/null || { tail -15 "$WORK/$r.log" >&2; die "$r exited during start-up"; }
    curl -sf -m 2 "http://127.0.0.1:$(mgmt_port "$r")/readyz" >/dev/null && { echo "  $r ready (pid ${PIDS[$r]}, management $(mgmt_port "$r"), ~$((i / 2)) s)"; return 0; }
    sleep 0.5
  done
  tail -15 "$WORK/$r.log" >&2; die "$r not ready within $2 s"
}

echo "cluster.sh $(date -u +%FT%TZ): 3 JVMs, cluster '$CLUSTER_NAME' on 127.0.0.1:$HZ_PORT-$((HZ_PORT + 2)); load avg $(cut -d' ' -f1-3 /proc/loadavg)"
start_role mailstore
wait_ready mailstore 90
start_role smtp; start_role pop3
wait_ready smtp 90; wait_ready pop3 90

if [ "$WARM" -gt 0 ]; then
  # Bounded in time as well as count: 90 s at most, whatever the rate.
  echo "  warm-up (not recorded): $WARM x 1 KiB, 20 sessions (each JVM's JIT needs tens of thousands)"
  SMTP_TIMEOUT=90 SMTP_TO=sink@bench.test flock -w 600 "$LOCK" timeout -k 5 120 \
    "$SHARED/smtp_load.sh" 127.0.0.1 "$SMTP_PORT" 20 "$WARM" 1024 >"$WORK/warmup.log" 2>&1 || echo "  warm-up had errors or hit 90 s (see $WORK/warmup.log)"
fi
RATES=()
for rep in $(seq 1 "$REPS"); do
  c0=""; for r in "${ROLES[@]}"; do c0="$c0 $(cpu_s "${PIDS[$r]}")"; done
  s0=$(awk '/^cpu /{ t=0; for (i=2;i<=9;i++) t+=$i; print t, $5+$6 }' /proc/stat)
  log=$WORK/smtp1k.$rep.log
  SMTP_TIMEOUT=$RUN_LIMIT SMTP_TO=sink@bench.test flock -w 600 "$LOCK" timeout -k 5 60 \
    "$SHARED/smtp_load.sh" 127.0.0.1 "$SMTP_PORT" 20 "$MSGS" 1024 >"$log" 2>&1
  rc=$?
  c1=""; for r in "${ROLES[@]}"; do c1="$c1 $(cpu_s "${PIDS[$r]}")"; done
  busy=$(awk -v a="$s0" '/^cpu /{ t=0; for (i=2;i<=9;i++) t+=$i; split(a, x, " "); dt=t-x[1]; if (dt<=0) dt=1;
         printf "%.0f", 100*(1-($5+$6-x[2])/dt) }' /proc/stat)
  rate=$(grep -Eo '^smtp_msgs_per_s=[0-9.]+' "$log" | cut -d= -f2)
  err=$(grep -Eo '^errors=[0-9]+' "$log" | cut -d= -f2)
  wall=$(grep -Eo '^wall_s=[0-9.]+' "$log" | cut -d= -f2)
  cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN{ n=split(a, x, " "); split(b, y, " "); s="";
        split("mailstore smtp pop3", nm, " "); for (i=1;i<=n;i++) s=s sprintf("%s %.1f ", nm[i], y[i]-x[i]); print s }')
  echo "  rep $rep: ${rate:--} msgs/s, errors ${err:-?}, wall ${wall:--} s, rc $rc; machine busy ${busy}% (incl. the run); CPU s: $cpu"
  [ "${err:-1}" = 0 ] || grep -E 'warning|fatal' "$log" | sort | uniq -c | head -3 | sed 's/^/      /'
  [ -n "$rate" ] && RATES+=("$rate")
done
med=$(printf '%s\n' "${RATES[@]}" | sort -g | awk '{ v[NR]=$1 } END { if (NR) printf "%.0f", (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2) }')
rss=""; for r in "${ROLES[@]}"; do rss="$rss $r $(rss_mb "${PIDS[$r]}")"; done
echo
echo "| setup | SMTP 1KiB x20 msgs/s (median of ${#RATES[@]}) | RSS MiB after |"
echo "|---|---:|---|"
echo "| cluster (3 JVMs: mailstore, smtp, pop3) | ${med:--} |$rss |"
if [ -n "$EMBEDDED" ]; then
  echo "| embedded (1 JVM, given) | $EMBEDDED | - |"
  [ -n "$med" ] && awk -v c="$med" -v e="$EMBEDDED" 'BEGIN{ if (e>0) printf "cluster / embedded = %.2f\n", c/e }'
fi
