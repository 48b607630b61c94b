#!/usr/bin/env bash
# run.sh [options] - benchmark OUR mail server (deploy/target/mailserver.jar) on 127.0.0.1,
# optionally side by side with smtp-sink, GreenMail, Postfix and Dovecot (--peers), in one run.
#
#   --reps N           repetitions per workload, the table shows medians (default 3, 1..9)
#   --peers            also start the baseline servers via /work/shared/bench/servers.sh and
#                      run the same workloads on them; prints ratios ours/peer
#   --only LIST        workloads to run, comma-separated (default all):
#                      smtp1k,smtp100k,smtplat1k,pop1k,pop100k
#   --idle [N]         instead of the workloads: hold N (default 10000) idle SMTP sessions
#                      with idle.py and measure new-session latency and RSS
#                      (env BENCH_IDLE_OPTS: extra idle.py options, e.g. "--spread 20")
#   --smtp-port P --pop3-port P --http-port P --mgmt-port P
#                      our ports (default 32525 32110 38025 38081; env BENCH_SMTP_PORT ...)
#   --jar PATH         default: deploy/target/mailserver.jar (built if missing)
#   --keep             keep the work directory (/tmp/mailbench.*) with logs and data
#
# Every load run is wrapped in `flock /tmp/bench.lock` (so benchmarks of different people never
# overlap) and bounded in count and in time (<= ~20 s each). Every server this script started is
# stopped on exit (trap), by PID or by servers.sh stop-X.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# The shared load scripts beside the repository (../shared/bench), wherever it is checked out.
SHARED=${BENCH_SHARED:-$(cd "$(dirname "$0")/../../../shared/bench" 2>/dev/null && pwd || echo /work/shared/bench)}
LOCK=${BENCH_LOCK:-/tmp/bench.lock}
REPS=3 PEERS=0 IDLE=0 IDLE_N=10000 KEEP=0
ONLY="smtp1k,smtp100k,smtplat1k,pop1k,pop100k"
SMTP_PORT=${BENCH_SMTP_PORT:-32525} POP3_PORT=${BENCH_POP3_PORT:-32110}
HTTP_PORT=${BENCH_HTTP_PORT:-38025} MGMT_PORT=${BENCH_MGMT_PORT:-38081}
JAR=${BENCH_JAR:-$ROOT/deploy/target/mailserver.jar}
RUN_LIMIT=20   # seconds, per load run

die() { echo "run.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --reps) REPS=${2:?}; shift ;;
    --peers) PEERS=1 ;;
    --only) ONLY=${2:?}; shift ;;
    --idle) IDLE=1; case ${2:-} in ''|-*) ;; *) IDLE_N=$2; shift ;; esac ;;
    --smtp-port) SMTP_PORT=${2:?}; shift ;;
    --pop3-port) POP3_PORT=${2:?}; shift ;;
    --http-port) HTTP_PORT=${2:?}; shift ;;
    --mgmt-port) MGMT_PORT=${2:?}; shift ;;
    --jar) JAR=${2:?}; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
for v in REPS IDLE_N SMTP_PORT POP3_PORT HTTP_PORT MGMT_PORT; do
  case ${!v} in ''|*[!0-9]*) die "$v must be a number, got '${!v}'" ;; esac
done
# shellcheck disable=SC2015
[ "$REPS" -ge 1 ] && [ "$REPS" -le 9 ] || die "--reps must be 1..9"
# shellcheck disable=SC2015
[ "$IDLE_N" -ge 1 ] && [ "$IDLE_N" -le 60000 ] || die "--idle N must be 1..60000"
[ -x "$SHARED/smtp_load.sh" ] || die "$SHARED/smtp_load.sh not found (BENCH_SHARED)"

WORK=$(mktemp -d /tmp/mailbench.XXXXXX)
ROWS=$WORK/rows.tsv
PID=""
STARTED_PEERS=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PID" 2>/dev/null && { echo "our server did not stop in 10 s: SIGKILL" >&2; kill -9 "$PID"; }
  fi
  local p
  for p in "${STARTED_PEERS[@]}"; do "$SHARED/servers.sh" "stop-$p" >/dev/null 2>&1; done
  if [ "$KEEP" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

locked() { flock -w 600 "$LOCK" timeout -k 5 $((RUN_LIMIT + 40)) "$@"; }
# whole-machine CPU busy % (100 = all cores) from /proc/stat
cpu_stat() { awk '/^cpu /{ t=0; for (i=2;i<=9;i++) t+=$i; print t, $5+$6 }' /proc/stat; }
busy_pct() { # "t0 i0" "t1 i1"
  awk -v a="$1" -v b="$2" 'BEGIN{ split(a,x," "); split(b,y," "); dt=y[1]-x[1]; if (dt<=0) dt=1; printf "%.0f", 100*(1-(y[2]-x[2])/dt) }'
}
QUIET_PCT=${BENCH_QUIET_PCT:-40} QUIET_WAIT=${BENCH_QUIET_WAIT:-15}
quiet_gate() { # wait (<= QUIET_WAIT s) until the machine is < QUIET_PCT % busy; prints the last busy %
  local i a b p=100
  for i in $(seq 1 "$QUIET_WAIT"); do
    a=$(cpu_stat); sleep 1; b=$(cpu_stat); p=$(busy_pct "$a" "$b")
    [ "$p" -lt "$QUIET_PCT" ] && break
  done
  echo "$p"
}
# measured run: holds the lock through the quiet gate and the run; sets PRE_BUSY, RUN_BUSY
measured() { # logfile cmd...
  local log=$1 a b rc; shift
  exec 9>>"$LOCK"
  flock -w 600 9 || { echo "lock $LOCK not acquired in 600 s" >"$log"; exec 9>&-; return 1; }
  PRE_BUSY=$(quiet_gate)
  a=$(cpu_stat)
  timeout -k 5 $((RUN_LIMIT + 40)) "$@" >"$log" 2>&1; rc=$?
  b=$(cpu_stat); RUN_BUSY=$(busy_pct "$a" "$b")
  exec 9>&-
  return $rc
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------- process facts (/proc) ----------
tree_pids() { # pid -> the pid and its live descendants
  ps -e -o pid=,ppid= | awk -v r="$1" '{ p[$1]=$2 } END { print r; n=1; while (n) { n=0;
    for (k in p) if (!(k in s) && (p[k] in s || p[k]==r)) { s[k]=1; print k; n=1 } } }'
}
cpu_ticks() { # own + reaped children's CPU of the whole process tree, in clock ticks
  local t=0 p f
  for p in $(tree_pids "$1"); do
    f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    # after "comm) ": state is field 1, utime=12 stime=13 cutime=14 cstime=15
    t=$((t + $(echo "$f" | awk '{print $12+$13+$14+$15}')))
  done
  echo "$t"
}
rss_kb() { # VmRSS summed over the tree, VmHWM of the main process
  local r=0 p v
  for p in $(tree_pids "$1"); do
    v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null); r=$((r + ${v:-0}))
  done
  echo "$r $(awk '/^VmHWM:/{print $2}' "/proc/$1/status" 2>/dev/null)"
}
TCK=$(getconf CLK_TCK)
metric() { # prometheus sum of lines starting with $1 on our management port
  curl -s -m 5 "http://127.0.0.1:$MGMT_PORT/metrics" | awk -v m="$1" 'index($0, m)==1 { s+=$NF } END { printf "%.0f", s }'
}
peer_pid() {
  case $1 in
    sink) cat /tmp/bench-run/sink.pid ;;
    greenmail) cat /tmp/bench-run/gm.pid ;;
    postfix) tr -d ' ' </tmp/bench-pf/spool/pid/master.pid ;;
    dovecot) cat /tmp/bench-dc/run/master.pid ;;
  esac 2>/dev/null
}

# ---------- our server ----------
write_config() { # file maxconn
  python3 - "$1" "$2" "$WORK/data" "$SMTP_PORT" "$POP3_PORT" "$HTTP_PORT" "$MGMT_PORT" <<'EOF'
import json, sys
f, maxconn, data, sp, pp, hp, mp = sys.argv[1], int(sys.argv[2]), sys.argv[3], *map(int, sys.argv[4:])
addrs = (["user@bench.test", "sink@bench.test"] + ["user%d@bench.test" % i for i in range(1, 41)]
         + ["big%d@bench.test" % i for i in range(1, 21)])
cfg = {"hostname": "bench.test", "domains": ["bench.test"], "dataDir": data,
       "smtp": {"host": "127.0.0.1", "port": sp, "submissionPort": -1, "smtpsPort": -1,
                "maxConnections": maxconn, "maxConnectionsPerIp": maxconn, "shutdownGraceSeconds": 1},
       "pop3": {"host": "127.0.0.1", "port": pp, "pop3sPort": -1, "allowPlaintextAuth": True,
                "maxConnections": maxconn, "maxConnectionsPerIp": maxconn},
       "http": {"host": "127.0.0.1", "port": hp},
       "management": {"host": "127.0.0.1", "port": mp},
       "accounts": [{"address": a, "password": "pass"} for a in addrs]}
json.dump(cfg, open(f, "w"), indent=1)
EOF
}
start_ours() { # maxconn nofile
  [ -f "$JAR" ] || { echo "building $JAR ..."; (cd "$ROOT" && mvn -B -q -o -DskipTests package) || die "build failed"; }
  local p; for p in "$SMTP_PORT" "$POP3_PORT" "$HTTP_PORT" "$MGMT_PORT"; do port_free "$p" || die "port $p is in use"; done
  write_config "$WORK/config.json" "$1" || die "cannot write config"
  # shellcheck disable=SC2086  # BENCH_JAVA_OPTS is a list of JVM options
  ( ulimit -n "$2" 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec java ${BENCH_JAVA_OPTS:-} -jar "$JAR" --config "$WORK/config.json" ) \
    >"$WORK/server.log" 2>&1 &
  PID=$!
  local i
  for i in $(seq 1 120); do
    kill -0 "$PID" 2>/dev/null || { tail -20 "$WORK/server.log" >&2; die "our server exited during start-up"; }
    curl -sf -m 2 "http://127.0.0.1:$MGMT_PORT/readyz" >/dev/null && break
    [ "$i" = 120 ] && { tail -20 "$WORK/server.log" >&2; die "our server not ready within 60 s"; }
    sleep 0.5
  done
  echo "our server: pid $PID, ready after ~$((i / 2)) s; smtp $SMTP_PORT pop3 $POP3_PORT http $HTTP_PORT mgmt $MGMT_PORT;" \
       "maxConnections(PerIp) $1, ulimit -n $(awk '/Max open files/{print $4}' "/proc/$PID/limits"); data $WORK/data"
}

# ---------- one measured run ----------
# run_one SERVER WORKLOAD REP PID CMD...   appends one row to $ROWS
run_one() {
  local srv=$1 wl=$2 rep=$3 pid=$4; shift 4
  local log="$WORK/$srv.$wl.$rep.log" c0 c1 f0=0 f1=0 d0=0 d1=0 drain=-
  c0=$(cpu_ticks "$pid")
  if [ "$srv" = ours ]; then f0=$(metric 'mail_store_fsyncs_total'); d0=$(metric 'mail_store_delivered_copies_total'); fi
  PRE_BUSY=- RUN_BUSY=-
  measured "$log" "$@"
  local rc=$?
  if [ "$srv" = postfix ] && [ "${wl#smtp}" != "$wl" ]; then
    local t0 t1; t0=$(date +%s.%N); "$SHARED/servers.sh" pf-drain; t1=$(date +%s.%N)
    drain=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')
  fi
  c1=$(cpu_ticks "$pid")
  if [ "$srv" = ours ]; then f1=$(metric 'mail_store_fsyncs_total'); d1=$(metric 'mail_store_delivered_copies_total'); fi
  local msgs mb p50 p99 err wall st
  msgs=$(grep -Eo '^(smtp|pop3)_msgs_per_s=[0-9.]+' "$log" | tail -1 | cut -d= -f2)
  mb=$(grep -Eo '^(smtp_payload|pop3)_MB_per_s=[0-9.]+' "$log" | tail -1 | cut -d= -f2)
  p50=$(grep -Eo '(^p50_ms=|^retr_latency_ms p50=)[0-9.]+' "$log" | tail -1 | sed 's/.*=//')
  p99=$(grep -Eo '(^p99_ms=|^retr_latency_ms .*p99=)[0-9.]+' "$log" | tail -1 | sed 's/.*=//')
  err=$(grep -Eo '^errors=[0-9]+' "$log" | tail -1 | cut -d= -f2)
  wall=$(grep -Eo '^wall_s=[0-9.]+' "$log" | tail -1 | cut -d= -f2)
  st=$(grep -Eo '(^| )status=[A-Z]+' "$log" | tail -1 | cut -d= -f2)
  [ -z "$err" ] && err=1 && st=NOOUTPUT
  # smtp_load.sh counts hitting its time limit as 1 error; the table shows it as status TIMEOUT instead
  [ "$st" = TIMEOUT ] && grep -q '^cmd=.*smtp-source' "$log" && [ "$err" -ge 1 ] && err=$((err - 1))
  read -r rss hwm <<<"$(rss_kb "$pid")"
  local fpm=-
  [ "$srv" = ours ] && [ $((d1 - d0)) -gt 0 ] && fpm=$(awk -v f=$((f1 - f0)) -v d=$((d1 - d0)) 'BEGIN{printf "%.2f", f/d}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$wl" "$rep" "${msgs:--}" "${mb:--}" \
    "${p50:--}" "${p99:--}" "$err" "$((rss / 1024))" "$(( ${hwm:-0} / 1024 ))" \
    "$(awk -v t=$((c1 - c0)) -v k="$TCK" 'BEGIN{printf "%.1f", t/k}')" "$fpm" "${wall:--}" "${st:-?}/rc$rc" "$drain" "$PRE_BUSY" "$RUN_BUSY" >>"$ROWS"
  printf '  %-9s %-9s rep %s: %8s msgs/s  %7s MB/s  p50 %6s p99 %6s ms  errors %s  wall %ss  %s  busy%% before/during %s/%s\n' \
    "$srv" "$wl" "$rep" "${msgs:--}" "${mb:--}" "${p50:--}" "${p99:--}" "$err" "${wall:--}" "${st:-?}" "$PRE_BUSY" "$RUN_BUSY"
  [ "$err" = 0 ] || grep -E 'error_sample|warning|fatal' "$log" | head -3 | sed 's/^/      /'
}

want() { case ",$ONLY," in *",$1,"*) return 0 ;; esac; return 1; }

# per-server counts: every run should take a few seconds and at most RUN_LIMIT
# (SMTP_TIMEOUT / --max-seconds cut it off otherwise; the rate stays valid, status says TIMEOUT)
smtp_counts() { # server -> "N1k N100k LATPERSESSION"
  case $1 in
    ours) echo "20000 5000 600" ;;
    postfix) echo "12000 5000 200" ;;
    greenmail) echo "100000 12000 3000" ;;
    sink) echo "300000 40000 4000" ;;
  esac
}
smtp_target() { # server -> "port rcpt"
  case $1 in
    ours) echo "$SMTP_PORT sink@bench.test" ;;
    postfix) echo "2525 user@bench.test" ;;
    greenmail) echo "3025 user@localhost" ;;
    sink) echo "2500 user@bench.test" ;;
  esac
}
pre_smtp() { # reset the store before an SMTP run
  case $1 in
    greenmail) "$SHARED/servers.sh" gm-purge ;;
    postfix) "$SHARED/servers.sh" pf-reset ;;
  esac
}

smtp_workloads() { # server pid
  local srv=$1 pid=$2 n1 n100 nl port rcpt r nw
  read -r n1 n100 nl <<<"$(smtp_counts "$srv")"
  read -r port rcpt <<<"$(smtp_target "$srv")"
  # A JVM needs ~20k messages before C2 is done compiling (jstat -compiler): fewer and the first
  # reps measure the JIT, not the server.
  nw=$((n1 * 2)); [ "$nw" -gt 30000 ] && nw=30000
  echo "  warm-up (not recorded): $nw x 1 KiB and $((n100 / 2)) x 100 KiB, 20 sessions"
  pre_smtp "$srv"
  SMTP_TIMEOUT=$RUN_LIMIT SMTP_TO="$rcpt" locked "$SHARED/smtp_load.sh" 127.0.0.1 "$port" 20 "$nw" 1024 \
    >"$WORK/$srv.warmup.log" 2>&1 || echo "  warm-up had errors (see $WORK/$srv.warmup.log)"
  SMTP_TIMEOUT=$RUN_LIMIT SMTP_TO="$rcpt" locked "$SHARED/smtp_load.sh" 127.0.0.1 "$port" 20 "$((n100 / 2))" 102400 \
    >>"$WORK/$srv.warmup.log" 2>&1 || echo "  warm-up had errors (see $WORK/$srv.warmup.log)"
  for r in $(seq 1 "$REPS"); do
    if want smtp1k; then pre_smtp "$srv"
      run_one "$srv" smtp1k "$r" "$pid" env SMTP_TIMEOUT=$RUN_LIMIT SMTP_TO="$rcpt" "$SHARED/smtp_load.sh" 127.0.0.1 "$port" 20 "$n1" 1024; fi
    if want smtp100k; then pre_smtp "$srv"
      run_one "$srv" smtp100k "$r" "$pid" env SMTP_TIMEOUT=$RUN_LIMIT SMTP_TO="$rcpt" "$SHARED/smtp_load.sh" 127.0.0.1 "$port" 20 "$n100" 102400; fi
    if want smtplat1k; then pre_smtp "$srv"
      run_one "$srv" smtplat1k "$r" "$pid" "$SHARED/smtp_load.py" 127.0.0.1 "$port" 20 "$nl" 1024 --to "$rcpt" --max-seconds "$RUN_LIMIT" --quiet; fi
  done
}

# POP3 mailboxes: 200 x 1 KiB and 100 x 100 KiB (each session reads its whole mailbox per round)
POP_N1=200 POP_N100=100
# Unrecorded, as for SMTP: the first pass over the mailboxes measures the JIT and a cold page cache.
pop_warm_up() { # server workload command...
  local srv=$1 wl=$2; shift 2
  echo "  warm-up (not recorded): one run of the same POP3 load"
  locked "$@" >"$WORK/$srv.warmup.$wl.log" 2>&1 || echo "  warm-up had errors (see $WORK/$srv.warmup.$wl.log)"
}
pop_ours() {
  local multi=$HERE/pop3_multi.py r size n rounds box list wl load
  for size in 1024 102400; do
    if [ "$size" = 1024 ]; then want pop1k || continue; n=$POP_N1; box=user; rounds=10; wl=pop1k
    else want pop100k || continue; n=$POP_N100; box=big; rounds=5; wl=pop100k; fi
    if [ -x "$multi" ]; then
      list=$(seq -s, -f "$box%g@bench.test" 1 20)
    else
      list=${box}1@bench.test; rounds=$((rounds * 4))
    fi
    echo "  prefill: $n x $size B into $list"
    locked "$HERE/prefill.py" 127.0.0.1 "$SMTP_PORT" "$n" "$size" --rcpts "$list" --max-seconds 60 \
      >"$WORK/prefill.$wl.log" 2>&1 || { echo "  prefill failed:"; tail -3 "$WORK/prefill.$wl.log"; }
    # One command for the warm-up and the repetitions; pop3_multi.py: session i (1..20) logs in as $box{i}@bench.test
    if [ -x "$multi" ]; then
      load=("$multi" 127.0.0.1 "$POP3_PORT" "$box{i}@bench.test" pass 20 "$rounds" --max-seconds "$RUN_LIMIT")
    else
      load=("$SHARED/pop3_load.py" 127.0.0.1 "$POP3_PORT" "$list" pass 1 "$rounds" --max-seconds "$RUN_LIMIT")
    fi
    pop_warm_up ours "$wl" "${load[@]}"
    for r in $(seq 1 "$REPS"); do
      run_one ours "$wl" "$r" "$PID" "${load[@]}"
    done
  done
  if [ -x "$multi" ]; then echo "ours POP3: 20 sessions on 20 mailboxes (deploy/bench/pop3_multi.py)" >>"$WORK/notes"
  else echo "ours POP3: 1 session only (deploy/bench/pop3_multi.py absent; 20 sessions of one user get -ERR [IN-USE], RFC 1939 lock)" >>"$WORK/notes"; fi
}
pop_peer() { # greenmail|dovecot
  local srv=$1 pid port sport rcpt size n rounds wl r
  pid=$(peer_pid "$srv")
  if [ "$srv" = greenmail ]; then port=3110 sport=3025 rcpt=user@localhost; else port=1110 sport=2525 rcpt=user@bench.test; fi
  for size in 1024 102400; do
    if [ "$size" = 1024 ]; then want pop1k || continue; n=$POP_N1; wl=pop1k
    else want pop100k || continue; n=$POP_N100; wl=pop100k; fi
    if [ "$srv" = greenmail ]; then "$SHARED/servers.sh" gm-purge; rounds=1
    else "$SHARED/servers.sh" pf-reset; rounds=15; fi
    echo "  prefill $srv: $n x $size B"
    locked "$SHARED/pop3_load.py" 127.0.0.1 "$port" user pass --prefill "$n" --prefill-size "$size" \
      --smtp-port "$sport" --rcpt "$rcpt" --prefill-only --prefill-wait 60 --max-seconds 60 >"$WORK/prefill.$srv.$wl.log" 2>&1 \
      || { echo "  prefill failed:"; tail -3 "$WORK/prefill.$srv.$wl.log"; }
    # The same client as for ours when it is there (all 20 sessions as "user": Dovecot does not lock).
    local tool=$SHARED/pop3_load.py
    [ -x "$HERE/pop3_multi.py" ] && tool=$HERE/pop3_multi.py
    local load=("$tool" 127.0.0.1 "$port" user pass 20 "$rounds" --max-seconds "$RUN_LIMIT")
    pop_warm_up "$srv" "$wl" "${load[@]}"
    for r in $(seq 1 "$REPS"); do
      run_one "$srv" "$wl" "$r" "$pid" "${load[@]}"
    done
  done
}

start_peer() { # name -> 0 if running (and to be stopped by us)
  if "$SHARED/servers.sh" "start-$1" >"$WORK/peer-$1.log" 2>&1; then STARTED_PEERS+=("$1"); return 0; fi
  echo "  could not start $1 (skipped): $(tail -1 "$WORK/peer-$1.log")"; return 1
}

# ---------- idle mode ----------
if [ "$IDLE" = 1 ]; then
  MAXC=$((IDLE_N + 200)); NOFILE=$(( IDLE_N * 2 + 4096 )); HN=$(ulimit -Hn)
  [ "$HN" != unlimited ] && [ "$NOFILE" -gt "$HN" ] && NOFILE=$HN
  echo "idle test: $IDLE_N sessions; our server started with smtp.maxConnections = maxConnectionsPerIp = $MAXC and ulimit -n $NOFILE"
  start_ours "$MAXC" "$NOFILE"
  # shellcheck disable=SC2086  # BENCH_IDLE_OPTS: extra idle.py options, e.g. "--spread 20"
  flock -w 600 "$LOCK" timeout -k 5 200 "$HERE/idle.py" 127.0.0.1 "$SMTP_PORT" --sessions "$IDLE_N" --pid "$PID" \
    --max-seconds 120 ${BENCH_IDLE_OPTS:-} | tee "$WORK/idle.log"
  exit "${PIPESTATUS[0]}"
fi

# ---------- workloads ----------
echo "run.sh $(date -u +%FT%TZ) reps=$REPS peers=$PEERS workloads=$ONLY; $(nproc) cores, load avg $(cut -d' ' -f1-3 /proc/loadavg)"
start_ours 1000 65536
echo "== ours"
smtp_workloads ours "$PID"
{ want pop1k || want pop100k; } && pop_ours
echo "ours: fsyncs/msg = delta(mail_store_fsyncs_total{file,directory}) / delta(mail_store_delivered_copies_total)" >>"$WORK/notes"

if [ "$PEERS" = 1 ]; then
  SMTPW=0; POPW=0
  { want smtp1k || want smtp100k || want smtplat1k; } && SMTPW=1
  { want pop1k || want pop100k; } && POPW=1
  for p in sink greenmail postfix; do
    [ "$SMTPW" = 1 ] || { [ "$p" = greenmail ] && [ "$POPW" = 1 ]; } || continue
    echo "== $p"
    start_peer "$p" || continue
    [ "$SMTPW" = 1 ] && smtp_workloads "$p" "$(peer_pid "$p")"
    [ "$p" = greenmail ] && [ "$POPW" = 1 ] && pop_peer greenmail
    if [ "$p" != postfix ]; then "$SHARED/servers.sh" "stop-$p"; fi
  done
  if want pop1k || want pop100k; then
    echo "== dovecot"
    case " ${STARTED_PEERS[*]} " in *" postfix "*) ;; *) start_peer postfix ;; esac
    start_peer dovecot && pop_peer dovecot
  fi
  echo "postfix: msgs/s = accepted (250) rate; drain_s = time until its queue was empty afterwards (delivered rate = n/(wall+drain))" >>"$WORK/notes"
  echo "peers' RSS = sum of VmRSS over the server's process tree; CPU includes reaped children (postfix smtpd/cleanup/virtual, dovecot pop3)" >>"$WORK/notes"
fi

# ---------- table ----------
python3 - "$ROWS" "$REPS" <<'EOF'
import sys, statistics
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def num(x):
    try: return float(x)
    except ValueError: return None
def med(vals):
    v = [num(x) for x in vals if num(x) is not None]
    return statistics.median(v) if v else None
def f(x, d=1):
    return "-" if x is None else ("%.*f" % (d, x))
order = ["smtp1k", "smtp100k", "smtplat1k", "pop1k", "pop100k"]
label = {"smtp1k": "SMTP 1KiB x20 (smtp-source)", "smtp100k": "SMTP 100KiB x20 (smtp-source)",
         "smtplat1k": "SMTP 1KiB x20 latency (smtp_load.py)", "pop1k": "POP3 RETR 1KiB", "pop100k": "POP3 RETR 100KiB"}
servers = []
for r in rows:
    if r[0] not in servers: servers.append(r[0])
cell = {}
for r in rows:
    cell.setdefault((r[0], r[1]), []).append(r)
print()
print("medians of %s repetitions (per-run rows above); RSS in MiB after the runs; CPU s = server CPU during one run" % sys.argv[2])
hdr = "| server | workload | msgs/s | MB/s | p50 ms | p99 ms | errors | RSS / HWM MiB | server CPU s | fsyncs/msg | wall s | status | busy% before / during |"
print(hdr); print("|" + "---|" * 13)
meds = {}
for s in servers:
    for w in order:
        rs = cell.get((s, w))
        if not rs: continue
        c = lambda i: med([r[i] for r in rs])
        m = c(3); meds[(s, w)] = m
        drain = c(14)
        st = ",".join(sorted(set(r[13] for r in rs)))
        print("| %s | %s | %s | %s | %s | %s | %d | %s / %s | %s | %s | %s%s | %s | %s / %s |" % (
            s, label[w], f(m, 0), f(c(4), 1), f(c(5), 2), f(c(6), 2), sum(int(r[7]) for r in rs),
            f(c(8), 0), f(c(9), 0), f(c(10), 1), f(c(11), 2), f(c(12), 1),
            "" if drain is None else " (+drain %.1f)" % drain, st, f(c(15), 0), f(c(16), 0)))
peers = [s for s in servers if s != "ours"]
if peers:
    print()
    print("ratio ours / peer (msgs/s medians; > 1 = ours faster)")
    print("| workload | " + " | ".join(peers) + " |"); print("|" + "---|" * (len(peers) + 1))
    for w in order:
        if (("ours", w)) not in meds: continue
        o = meds[("ours", w)]
        cells = []
        for p in peers:
            v = meds.get((p, w))
            cells.append("-" if not v or o is None else "%.2f" % (o / v))
        print("| %s | %s |" % (label[w], " | ".join(cells)))
EOF
echo "TIMEOUT = the run hit its ${RUN_LIMIT} s bound before its message count (its rate is still messages/wall); busy% = whole machine (100 = both cores), 'before' after waiting <= ${QUIET_WAIT} s for < ${QUIET_PCT} %" >>"$WORK/notes"
[ -f "$WORK/notes" ] && sed 's/^/note: /' "$WORK/notes"
echo "logs: $WORK (kept only with --keep)"
