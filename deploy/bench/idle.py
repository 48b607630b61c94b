#!/usr/bin/env python3
"""idle.py - hold many idle SMTP sessions open and measure what new sessions see meanwhile.

usage: idle.py HOST PORT [--sessions N] [--pid PID] [--max-seconds S] [options]

  --sessions N      idle sessions to open (default 10000, max 60000); each reads the
                    greeting, sends EHLO, reads the reply and then stays idle
  --pid PID         the server's PID: VmRSS/VmHWM and CPU from /proc/PID before and
                    while the sessions are held (per-session RSS = delta / sessions)
  --probes K        new sessions timed while the idle ones are held (default 20),
                    one after the other: connect -> greeting -> EHLO -> 250 reply
  --hold S          seconds to keep the sessions idle before probing (default 2)
  --concurrency C   connection attempts in flight while opening (default 200)
  --spread K        bind source addresses over 127.0.0.2 .. 127.0.0.(K+1) (default: 0 = off,
                    automatic when N exceeds ~80 % of the ephemeral port range); only
                    for a 127.x HOST
  --max-seconds S   hard wall-clock limit for everything (default 120, max 600)
  --op-timeout S    limit for one greeting/EHLO (default 20)

Raises its own RLIMIT_NOFILE (soft) up to the hard limit. Only loopback targets are allowed.
Prints key=value lines; exit 0 if every session and probe succeeded, else 1 (2 = usage).
"""
import argparse
import asyncio
import ipaddress
import os
import resource
import socket
import sys
import time

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def proc_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def proc_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def pct(vals, q):
    if not vals:
        return float("nan")
    v = sorted(vals)
    return v[min(len(v) - 1, max(0, int(round(q / 100.0 * len(v) + 0.5)) - 1))]


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = map(int, f.read().split())
            return hi - lo + 1
    except (OSError, ValueError):
        return 28232


async def read_reply(reader):
    while True:
        raw = await reader.readline()
        if not raw:
            raise ConnectionError("closed by server")
        s = raw.decode("latin-1").rstrip("\r\n")
        if len(s) < 4 or s[3] != "-":
            return int(s[:3]), s


class Idle:
    def __init__(self, a):
        self.a = a
        self.conns = []
        self.errors = 0
        self.samples = []
        self.src_i = 0

    def err(self, what):
        self.errors += 1
        if len(self.samples) < 8:
            self.samples.append(what[:160])

    async def session(self, src=None):
        """connect, greeting, EHLO -> (reader, writer, seconds)."""
        a = self.a
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        t0 = time.perf_counter()
        try:
            if src:
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((src, 0))
            await asyncio.wait_for(loop.sock_connect(sock, (a.host, a.port)), a.op_timeout)
            reader, writer = await asyncio.open_connection(sock=sock, limit=65536)
        except BaseException:
            sock.close()
            raise
        try:
            code, line = await asyncio.wait_for(read_reply(reader), a.op_timeout)
            if code != 220:
                raise ConnectionError("greeting %r" % line)
            writer.write(b"EHLO idle.bench.test\r\n")
            code, line = await asyncio.wait_for(read_reply(reader), a.op_timeout)
            if code != 250:
                raise ConnectionError("EHLO -> %r" % line)
        except BaseException:
            writer.close()
            raise
        return reader, writer, time.perf_counter() - t0

    def next_src(self):
        if not self.a.spread:
            return None
        self.src_i += 1
        return "127.0.0.%d" % (2 + self.src_i % self.a.spread)

    async def open_all(self, deadline):
        sem = asyncio.Semaphore(self.a.concurrency)
        failures = 0

        async def one():
            nonlocal failures
            async with sem:
                if time.monotonic() >= deadline or failures > 100:
                    return
                try:
                    r, w, _ = await self.session(self.next_src())
                    self.conns.append((r, w))
                except (OSError, ConnectionError, asyncio.TimeoutError, ValueError) as e:
                    failures += 1
                    self.err("open: %s: %s" % (type(e).__name__, e))

        await asyncio.gather(*(one() for _ in range(self.a.sessions)))

    async def probe(self, k):
        lat = []
        for _ in range(k):
            try:
                r, w, dt = await self.session(self.next_src())
                lat.append(dt)
                w.write(b"QUIT\r\n")
                w.close()
            except (OSError, ConnectionError, asyncio.TimeoutError, ValueError) as e:
                self.err("probe: %s: %s" % (type(e).__name__, e))
        return lat


async def main_async(a):
    st = Idle(a)
    t_start = time.monotonic()
    deadline = t_start + a.max_seconds
    out = []
    p = lambda k, v: out.append("%s=%s" % (k, v))
    p("target", "%s:%d" % (a.host, a.port))
    p("sessions_requested", a.sessions)
    p("spread_source_addrs", a.spread)
    s0 = proc_status(a.pid) if a.pid else {}
    base_lat = await st.probe(a.probes)
    p("probe_before_ms p50", "%.2f p99=%.2f n=%d" % (pct(base_lat, 50) * 1e3, pct(base_lat, 99) * 1e3, len(base_lat)))
    c0 = proc_cpu(a.pid) if a.pid else float("nan")
    t0 = time.perf_counter()
    await st.open_all(deadline)
    t_open = time.perf_counter() - t0
    c1 = proc_cpu(a.pid) if a.pid else float("nan")
    p("sessions_open", len(st.conns))
    p("open_wall_s", "%.2f" % t_open)
    p("open_rate_per_s", "%.0f" % (len(st.conns) / max(t_open, 1e-9)))
    hold_end = min(deadline - 5, time.monotonic() + a.hold)
    while time.monotonic() < hold_end:
        await asyncio.sleep(0.2)
    s1 = proc_status(a.pid) if a.pid else {}
    fds = proc_fds(a.pid) if a.pid else -1
    lat = await st.probe(a.probes) if time.monotonic() < deadline else []
    alive = sum(1 for r, w in st.conns if not r.at_eof() and not w.is_closing())
    p("sessions_alive_after_probe", alive)
    p("probe_while_held_ms p50", "%.2f p99=%.2f max=%.2f n=%d" % (
        pct(lat, 50) * 1e3, pct(lat, 99) * 1e3, (max(lat) if lat else float("nan")) * 1e3, len(lat)))
    p("probe_p50_ms", "%.2f" % (pct(lat, 50) * 1e3))
    p("probe_p99_ms", "%.2f" % (pct(lat, 99) * 1e3))
    if a.pid:
        p("server_pid", a.pid)
        p("server_fds_while_held", fds)
        p("server_threads_while_held", s1.get("Threads", -1))
        p("server_cpu_s_opening", "%.2f" % (c1 - c0))
        p("server_VmRSS_before_kB", s0.get("VmRSS", -1))
        p("server_VmRSS_held_kB", s1.get("VmRSS", -1))
        p("server_VmHWM_held_kB", s1.get("VmHWM", -1))
        if st.conns and "VmRSS" in s0 and "VmRSS" in s1:
            p("server_rss_per_session_kB", "%.1f" % ((s1["VmRSS"] - s0["VmRSS"]) / len(st.conns)))
    for w in [w for _, w in st.conns]:
        try:
            w.close()
        except Exception:
            pass
    await asyncio.sleep(0.5)
    if len(st.conns) < a.sessions:
        st.err("only %d of %d sessions opened" % (len(st.conns), a.sessions))
    if alive < len(st.conns):
        st.err("%d held sessions were closed by the server" % (len(st.conns) - alive))
    for s in st.samples:
        p("error_sample", s)
    p("errors", st.errors)
    p("wall_s", "%.2f" % (time.monotonic() - t_start))
    print("\n".join(out))
    return 1 if st.errors else 0


def main():
    ap = argparse.ArgumentParser(usage=__doc__.split("\n\n")[1].replace("usage: ", ""))
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--hold", type=float, default=2.0)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--spread", type=int, default=-1)
    ap.add_argument("--max-seconds", type=float, default=120.0)
    ap.add_argument("--op-timeout", type=float, default=20.0)
    a = ap.parse_args()
    if not (1 <= a.sessions <= 60000 and 1 <= a.probes <= 1000 and 1 <= a.concurrency <= 5000
            and 0 < a.max_seconds <= 600 and -1 <= a.spread <= 250 and 0 <= a.hold <= 300):
        ap.error("out of range: --sessions 1..60000, --probes 1..1000, --concurrency 1..5000, "
                 "--max-seconds (0,600], --spread -1..250, --hold 0..300")
    try:
        if not ipaddress.ip_address(a.host).is_loopback:
            ap.error("only loopback targets (127.0.0.0/8)")
    except ValueError:
        ap.error("HOST must be an IP address")
    if a.spread < 0:
        a.spread = 0 if a.sessions + a.probes * 2 < 0.8 * ephemeral_range() else 50
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.sessions + a.probes + 256
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    print("client_nofile=%d" % resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    try:
        return asyncio.run(asyncio.wait_for(main_async(a), a.max_seconds + 30))
    except asyncio.TimeoutError:
        print("status=TIMEOUT\nerrors=1")
        return 1


if __name__ == "__main__":
    sys.exit(main())
