#!/usr/bin/env python3
"""ack_p99.py METRICS_URL -- COMMAND [ARGS...]

Server-side latency from the final dot of DATA to the 250 (issue 7's latency target), for the
messages of one load run: reads the histogram mail_smtp_ack_latency_seconds{result="stored"} from
our management port before and after COMMAND, and prints from the difference

    ack_count=N  ack_within_10ms_pct=P  ack_p50_ms<=X  ack_p99_ms<=Y

(p50/p99 as the upper bound of the histogram bucket they fall in: 1, 2, 5, 10, 25 ms, ...).
COMMAND's own output passes through; the exit status is COMMAND's. Loopback URLs only.
"""
import re
import subprocess
import sys
import urllib.request

LINE = re.compile(r'^mail_smtp_ack_latency_seconds_bucket\{(?P<labels>[^}]*)\}\s+(?P<v>[0-9.eE+-]+)$')


def buckets(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or 'result="stored"' not in m.group('labels'):
            continue
        le = re.search(r'le="([^"]+)"', m.group('labels')).group(1)
        out[float('inf') if le == '+Inf' else float(le)] = out.get(le, 0) + float(m.group('v'))
    return out


def main():
    if len(sys.argv) < 4 or sys.argv[2] != '--':
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    url = sys.argv[1]
    if not re.match(r'^http://(127\.0\.0\.1|localhost|\[::1\])[:/]', url):
        print('loopback URLs only', file=sys.stderr)
        return 2
    before = buckets(url)
    rc = subprocess.call(sys.argv[3:])
    after = buckets(url)
    diff = sorted((le, after.get(le, 0) - before.get(le, 0)) for le in after)
    total = diff[-1][1] if diff else 0
    if total <= 0:
        print('ack_count=0')
        return rc or 1

    def quantile(q):
        for le, cum in diff:
            if cum >= q * total:
                return le * 1000
        return float('inf')

    within = next((cum for le, cum in diff if abs(le - 0.010) < 1e-9), 0)
    print('ack_count=%d ack_within_10ms_pct=%.2f ack_p50_ms<=%g ack_p99_ms<=%g'
          % (total, 100.0 * within / total, quantile(0.50), quantile(0.99)))
    return rc


if __name__ == '__main__':
    sys.exit(main())
