#!/usr/bin/env python3
"""maildir_fill.py DIR COUNT SIZE - writes COUNT messages with SIZE-byte bodies into the Maildir DIR.

For filling the benchmark Dovecot's Maildir (/tmp/bench-pf/vmail/user) without Postfix: the same
message shape pop3_multi.py --prefill sends through SMTP. Replaces what DIR held (new/ and cur/).
Bounded: COUNT <= 5000, SIZE <= 1 MiB; DIR must be under /tmp.
"""
import os
import shutil
import sys
import time


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    d, count, size = os.path.abspath(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    if not d.startswith("/tmp/") or not (0 <= count <= 5000) or not (0 <= size <= 1 << 20):
        sys.exit("DIR must be under /tmp, COUNT 0..5000, SIZE 0..1048576")
    for sub in ("new", "cur", "tmp"):
        shutil.rmtree(os.path.join(d, sub), ignore_errors=True)
        os.makedirs(os.path.join(d, sub))
    for f in ("dovecot-uidlist", "dovecot.index", "dovecot.index.cache", "dovecot.index.log"):
        try:
            os.remove(os.path.join(d, f))
        except FileNotFoundError:
            pass
    line = b"x" * 76 + b"\r\n"
    body = (line * (size // len(line) + 1))[:size]
    now = int(time.time())
    for k in range(count):
        msg = (b"Return-Path: <load@bench.test>\r\nFrom: load@bench.test\r\nTo: user@bench.test\r\n"
               b"Subject: load %d\r\n\r\n" % k) + body
        name = "%d.M%dP%d.bench,S=%d" % (now, k, os.getpid(), len(msg))
        with open(os.path.join(d, "new", name), "wb") as f:
            f.write(msg)
    print("maildir=%s msgs=%d body_size=%d" % (d, count, size))


if __name__ == "__main__":
    main()
