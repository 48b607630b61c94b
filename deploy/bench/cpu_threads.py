#!/usr/bin/env python3
"""cpu_threads.py --pid PID --messages N [--top K] -- COMMAND [ARGS...]

Where a server's CPU goes, per message: snapshots the user and system CPU time of every thread of
PID (from /proc/PID/task/*/stat), runs COMMAND (a bounded load run, e.g. smtp_load.sh), snapshots
again and prints, for each thread group (the thread name with its trailing number dropped, so the
event-loop threads add up to one row), microseconds of user and system CPU per message, its share,
and the whole machine's context switches per message.

Used for docs/PERFORMANCE.md: it shows which part of the per-message cost is the protocol (event
loops), which the storage (writer, log, journal threads, mostly kernel time) and which the JIT.
Threads that ended during the run (a thread-per-connection server's, GreenMail's) have no row of
their own: the process's total, which keeps their time, gives them one ("threads that ended").
The server is only read, never signalled. COMMAND's output goes to stderr so that stdout is the table.
"""
import argparse
import os
import re
import subprocess
import sys
import time

TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def threads(pid):
    """{tid: (name, utime_ticks, stime_ticks)} for the live threads of pid."""
    out = {}
    base = f"/proc/{pid}/task"
    for tid in os.listdir(base):
        try:
            with open(f"{base}/{tid}/stat") as f:
                s = f.read()
        except OSError:
            continue  # the thread ended between listdir and open
        # "tid (name) state ..." - the name may hold spaces and parentheses: split at the last ')'.
        name = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        out[tid] = (name, int(fields[11]), int(fields[12]))
    return out


def process_ticks(pid):
    """utime + stime of the whole process, the time of its ended threads included."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def machine_ctxt():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("ctxt "):
                return int(line.split()[1])
    return 0


def group(name):
    return re.sub(r"[-#]?\d+$", "#", name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--messages", type=int, required=True, help="messages the command sends (the divisor)")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd or a.messages <= 0:
        ap.error("need --messages > 0 and a command after --")

    p0, before, c0, t0 = process_ticks(a.pid), threads(a.pid), machine_ctxt(), time.monotonic()
    rc = subprocess.call(cmd, stdout=sys.stderr)
    after, p1, c1, wall = threads(a.pid), process_ticks(a.pid), machine_ctxt(), time.monotonic() - t0

    rows = {}
    for tid, (name, u, s) in after.items():
        _, u0, s0 = before.get(tid, (name, 0, 0))
        g = rows.setdefault(group(name), [0, 0, 0])
        g[0] += u - u0
        g[1] += s - s0
        g[2] += 1
    # What the process spent beyond its live threads is the time of threads that ended during the
    # run: the process total keeps it, without telling user from system.
    live_ticks = sum(u + s for u, s, _ in rows.values())
    ended = max(0, (p1 - p0) - live_ticks)
    total = (live_ticks + ended) or 1
    n = a.messages
    us = lambda ticks: ticks * TICK_US / n
    print(f"server pid {a.pid}: {n} messages in {wall:.1f} s; CPU per message by thread group "
          f"(us user / us system); machine context switches {(c1 - c0) / n:.1f} per message")
    print("| thread group | threads | user us/msg | system us/msg | share |")
    print("|---|---:|---:|---:|---:|")
    if ended:
        print(f"| (threads that ended) | ? | {us(ended):.1f} (user+system) | - | {100 * ended / total:.0f} % |")
    live = sorted(((k, v) for k, v in rows.items() if v[0] + v[1]), key=lambda kv: -(kv[1][0] + kv[1][1]))
    for name, (u, s, k) in live[:a.top]:
        print(f"| {name} | {k} | {us(u):.1f} | {us(s):.1f} | {100 * (u + s) / total:.0f} % |")
    tu = sum(u for u, _, _ in rows.values())
    ts = sum(s for _, s, _ in rows.values())
    print(f"| all | {sum(k for *_, k in rows.values())} | {us(tu):.1f} | {us(ts):.1f} | "
          f"{us(live_ticks + ended):.0f} us/msg |")
    return rc


if __name__ == "__main__":
    sys.exit(main())
