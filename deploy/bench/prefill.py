#!/usr/bin/env python3
"""prefill.py - put COUNT messages of SIZE body bytes into each of several mailboxes via SMTP.

usage: prefill.py HOST PORT COUNT SIZE --rcpts a@d,b@d,... [--from ADDR] [--max-seconds S]

One SMTP session; each message is sent once with every address of --rcpts as a
recipient (so the server stores one copy per mailbox). Stdlib only (smtplib).
Bounded: COUNT <= 100000, at most 100 recipients, hard wall-clock limit --max-seconds.
Prints key=value lines; exit 1 if any message was not accepted for every recipient.
"""
import argparse
import smtplib
import sys
import time

LINE = b"The quick brown fox jumps over the lazy dog 0123456789 ABCDEFGHIJKLMNOPQRSTUV\r\n"  # 80 B


def body(size):
    n, rem = divmod(size, len(LINE))
    out = LINE * n
    if rem >= 2:
        out += b"y" * (rem - 2) + b"\r\n"
    return out


def main():
    ap = argparse.ArgumentParser(usage=__doc__.split("\n\n")[1].replace("usage: ", ""))
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("size", type=int)
    ap.add_argument("--rcpts", required=True)
    ap.add_argument("--from", dest="sender", default="bench@bench.test")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    a = ap.parse_args()
    rcpts = [r for r in a.rcpts.split(",") if r]
    if not (1 <= a.count <= 100000) or not (1 <= len(rcpts) <= 100) or not (0 < a.max_seconds <= 3600):
        ap.error("COUNT 1..100000, 1..100 recipients, --max-seconds (0,3600]")
    deadline = time.monotonic() + a.max_seconds
    b = body(a.size)
    ok = errors = 0
    t0 = time.perf_counter()
    s = smtplib.SMTP(a.host, a.port, local_hostname="bench.test", timeout=60)
    try:
        s.ehlo("bench.test")
        for i in range(a.count):
            if time.monotonic() >= deadline:
                errors += 1
                print("error_sample: --max-seconds reached after %d messages" % i)
                break
            hdr = ("From: <%s>\r\nTo: <%s>\r\nSubject: prefill %d size %d\r\n"
                   "Message-ID: <prefill.%d.%d@bench.test>\r\n\r\n" % (
                       a.sender, rcpts[0], i, a.size, i, time.time_ns())).encode()
            try:
                refused = s.sendmail(a.sender, rcpts, hdr + b)
            except smtplib.SMTPException as e:
                errors += 1
                if errors <= 5:
                    print("error_sample: %s" % e)
                if errors > 20:
                    break
                continue
            if refused:
                errors += len(refused)
            ok += 1
        try:
            s.quit()
        except smtplib.SMTPException:
            pass
    finally:
        s.close()
    wall = time.perf_counter() - t0
    print("prefill_messages=%d prefill_copies=%d rcpts=%d size_bytes=%d wall_s=%.2f" % (
        ok, ok * len(rcpts), len(rcpts), a.size, wall))
    print("errors=%d" % errors)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
