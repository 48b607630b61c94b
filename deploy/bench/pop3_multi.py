#!/usr/bin/env python3
"""pop3_multi.py - bounded POP3 retrieval load over N mailboxes (Python 3.11 stdlib, loopback only).

usage: pop3_multi.py HOST PORT USER PASS SESSIONS ROUNDS [options]

USER may contain "{i}", replaced by the session number 1..SESSIONS (user{i}@bench.test gives
every session a mailbox of its own, so a server with the RFC 1939 section 8 exclusive maildrop
lock can be measured at 20 sessions); without "{i}" every session logs in as USER (Dovecot, which
does not lock by default). Each session does ROUNDS times:
    connect, USER/PASS, STAT, LIST, RETR 1..n (every message, lock-step), QUIT   (no DELE)
and prints the same key=value lines as /work/shared/bench/pop3_load.py, the last two being
    pop3_msgs_per_s=<float>   RETRs answered +OK per wall-clock second
    pop3_MB_per_s=<float>     RETR bytes per second as received (10^6 bytes), without the final "."

options:
  --max-seconds S     hard wall-clock limit of the load (default 20, at most 120)
  --op-timeout S      limit of one command/reply (default 30)
  --prefill N         first deliver N messages to each distinct mailbox through SMTP (stdlib
                      smtplib, one connection per mailbox, sequential); then STAT must show >= N
  --prefill-size B    body size of each prefilled message (default 1024)
  --smtp-port P       SMTP port for --prefill (default 25)
  --prefill-only      stop after the prefill

Every -ERR, malformed reply, connection failure or timeout counts in errors=N.
Exit status 0 if errors=0 and the run finished in time, else 1.
"""
import argparse
import asyncio
import resource
import smtplib
import socket
import sys
import time

TERM = b"\r\n.\r\n"


class PopError(Exception):
    pass


class Stats:
    def __init__(self):
        self.msgs = self.bytes = self.errors = self.logins = 0
        self.lat, self.login_lat, self.samples = [], [], []
        self.mailbox = None

    def err(self, what):
        self.errors += 1
        if len(self.samples) < 8:
            self.samples.append(what[:160])


class Reader:
    """Buffered reads of status lines and dot-terminated bodies."""

    def __init__(self, r):
        self.r, self.buf = r, bytearray()

    async def fill(self):
        chunk = await self.r.read(262144)
        if not chunk:
            raise ConnectionError("connection closed by server")
        self.buf += chunk

    async def line(self):
        start = 0
        while True:
            i = self.buf.find(b"\r\n", start)
            if i >= 0:
                out = bytes(self.buf[: i + 2])
                del self.buf[: i + 2]
                return out.decode("latin-1").rstrip("\r\n")
            if len(self.buf) > 1 << 16:
                raise PopError("status line longer than 64 KiB")
            start = max(0, len(self.buf) - 1)
            await self.fill()

    async def ok(self, what):
        s = await self.line()
        if not s.startswith("+OK"):
            raise PopError("%s -> %s" % (what, s))
        return s

    async def body(self):
        """Consumes a dot-terminated body; returns its size without the final '.CRLF'."""
        while len(self.buf) < 3:
            await self.fill()
        if self.buf[:3] == b".\r\n":
            del self.buf[:3]
            return 0
        start = 0
        while True:
            i = self.buf.find(TERM, start)
            if i >= 0:
                del self.buf[: i + 5]
                return i + 2
            start = max(0, len(self.buf) - 4)
            await self.fill()


def user_of(cfg, sid):
    return cfg.user.replace("{i}", str(sid + 1))


async def one_round(cfg, sid, st, deadline):
    t0 = time.perf_counter()
    async with asyncio.timeout(cfg.op_timeout):
        r, w = await asyncio.open_connection(cfg.host, cfg.port, limit=1 << 24)
    sock = w.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rd = Reader(r)
    try:
        async with asyncio.timeout(cfg.op_timeout):
            await rd.ok("greeting")
            w.write(b"USER " + user_of(cfg, sid).encode() + b"\r\n")
            await rd.ok("USER")
            w.write(b"PASS " + cfg.password.encode() + b"\r\n")
            await rd.ok("PASS")
            st.logins += 1
            st.login_lat.append(time.perf_counter() - t0)
            w.write(b"STAT\r\n")
            parts = (await rd.ok("STAT")).split()
            try:
                count, octets = int(parts[1]), int(parts[2])
            except (IndexError, ValueError):
                raise PopError("malformed STAT reply %r" % parts)
            if st.mailbox is None:
                st.mailbox = (count, octets)
            if cfg.prefill and count < cfg.prefill:
                st.err("%s: STAT says %d messages, expected >= %d" % (user_of(cfg, sid), count, cfg.prefill))
            w.write(b"LIST\r\n")
            await rd.ok("LIST")
            nums = []
            while (ln := await rd.line()) != ".":
                nums.append(int(ln.split()[0]))
            if len(nums) != count:
                st.err("LIST has %d entries, STAT said %d" % (len(nums), count))
        for n in nums:
            if time.monotonic() >= deadline:
                return  # out of time mid-round: drop the link without QUIT
            ts = time.perf_counter()
            async with asyncio.timeout(cfg.op_timeout):
                w.write(b"RETR %d\r\n" % n)
                try:
                    await rd.ok("RETR %d" % n)
                except PopError as e:
                    st.err(str(e))
                    continue
                nbytes = await rd.body()
            st.msgs += 1
            st.bytes += nbytes
            st.lat.append(time.perf_counter() - ts)
        async with asyncio.timeout(cfg.op_timeout):
            w.write(b"QUIT\r\n")
            await rd.ok("QUIT")
    finally:
        w.close()


async def session(cfg, sid, st, deadline):
    failures = 0
    for _ in range(cfg.rounds):
        if time.monotonic() >= deadline:
            break
        try:
            await one_round(cfg, sid, st, deadline)
        except (OSError, ConnectionError, PopError, ValueError, TimeoutError,
                asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            st.err("session %d: %s: %s" % (sid, type(e).__name__, e))
            failures += 1
            if failures > 3:
                break
            await asyncio.sleep(0.2)


async def run(cfg):
    st = Stats()
    deadline = time.monotonic() + cfg.max_seconds
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(session(cfg, i, st, deadline)) for i in range(cfg.sessions)]
    done, pending = await asyncio.wait(tasks, timeout=cfg.max_seconds + cfg.op_timeout + 5)
    for t in pending:
        t.cancel()
        st.err("session cancelled at the hard deadline")
    wall = time.perf_counter() - t0
    return st, wall, time.monotonic() >= deadline or bool(pending)


def prefill(cfg):
    """N messages of --prefill-size bytes to every distinct mailbox, through SMTP."""
    users = sorted({user_of(cfg, i) for i in range(cfg.sessions)})
    line = b"x" * 76 + b"\r\n"
    body = (line * (cfg.prefill_size // len(line) + 1))[: cfg.prefill_size]
    errors, t0 = 0, time.perf_counter()
    for u in users:
        rcpt = u if "@" in u else u + "@localhost"
        with smtplib.SMTP("127.0.0.1", cfg.smtp_port, timeout=cfg.op_timeout) as s:
            for k in range(cfg.prefill):
                msg = b"From: load@bench.test\r\nTo: " + rcpt.encode() + b"\r\nSubject: load %d\r\n\r\n" % k + body
                try:
                    s.sendmail("load@bench.test", [rcpt], msg)
                except smtplib.SMTPException as e:
                    errors += 1
                    print("prefill_error_sample: %s" % str(e)[:160])
                if time.perf_counter() - t0 > 600:
                    print("prefill_error_sample: prefill took more than 600 s")
                    return errors + 1
    print("prefill: mailboxes=%d msgs_each=%d size=%d errors=%d wall_s=%.2f" % (
        len(users), cfg.prefill, cfg.prefill_size, errors, time.perf_counter() - t0))
    return errors


def pct(v, q):
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(round(q / 100.0 * (len(v) - 1))))]


def main(argv=None):
    ap = argparse.ArgumentParser(usage=__doc__.split("\n\n")[1].strip().replace("usage: ", "", 1))
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("sessions", type=int)
    ap.add_argument("rounds", type=int)
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--op-timeout", type=float, default=30.0)
    ap.add_argument("--prefill", type=int, default=0)
    ap.add_argument("--prefill-size", type=int, default=1024)
    ap.add_argument("--smtp-port", type=int, default=25)
    ap.add_argument("--prefill-only", action="store_true")
    cfg = ap.parse_args(argv)
    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        ap.error("loopback only")
    if not (1 <= cfg.sessions <= 200) or not (1 <= cfg.rounds <= 10000):
        ap.error("SESSIONS must be 1..200, ROUNDS 1..10000")
    if not (0 < cfg.max_seconds <= 120) or not (0 <= cfg.prefill <= 5000):
        ap.error("--max-seconds must be in (0, 120], --prefill 0..5000")
    rc = 0
    if cfg.prefill:
        rc = 1 if prefill(cfg) else 0
        if cfg.prefill_only:
            return rc
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    st, wall, timed_out = asyncio.run(run(cfg))
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    wall = max(wall, 1e-9)
    lat, ll = sorted(st.lat), sorted(st.login_lat)
    mb = st.mailbox or (-1, -1)
    print("tool=pop3_multi.py host=%s port=%d user=%s sessions=%d rounds=%d" % (
        cfg.host, cfg.port, cfg.user, cfg.sessions, cfg.rounds))
    print("mailbox_msgs=%d mailbox_octets=%d logins=%d retr_ok=%d bytes=%d" % (mb[0], mb[1], st.logins, st.msgs, st.bytes))
    for s in st.samples:
        print("error_sample: %s" % s)
    print("status=%s" % ("TIMEOUT" if timed_out else "OK"))
    print("errors=%d" % st.errors)
    print("retr_latency_ms p50=%.3f p99=%.3f max=%.3f n=%d" % (
        pct(lat, 50) * 1e3, pct(lat, 99) * 1e3, (lat[-1] if lat else float("nan")) * 1e3, len(lat)))
    print("login_latency_ms p50=%.3f p99=%.3f n=%d" % (pct(ll, 50) * 1e3, pct(ll, 99) * 1e3, len(ll)))
    print("wall_s=%.3f" % wall)
    print("client_cpu_s=%.3f client_cpu_pct=%.0f  (100 = one core saturated by this client)" % (cpu, 100.0 * cpu / wall))
    print("pop3_msgs_per_s=%.2f" % (st.msgs / wall))
    print("pop3_MB_per_s=%.3f" % (st.bytes / wall / 1e6))
    return 1 if st.errors or timed_out or rc else 0


if __name__ == "__main__":
    sys.exit(main())
