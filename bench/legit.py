#!/usr/bin/env python3
"""Back-to-back downloads of one URL over one keep-alive HTTPS connection for a fixed time;
prints one JSON object with the count, the failures and the latency percentiles (ms) of the
complete downloads. Used by bench/run next to the password flood. Stdlib only."""

import argparse
import http.client
import json
import ssl
import sys
import time


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--duration", type=float, required=True)
    args = ap.parse_args()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    conn = None
    lat = []
    failures = {}
    nbytes = 0
    end = time.perf_counter() + args.duration
    while time.perf_counter() < end:
        t = time.perf_counter()
        try:
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", args.port, context=ctx, timeout=60)
            conn.request("GET", args.path, headers=headers)
            resp = conn.getresponse()
            n = 0
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                n += len(chunk)
            if resp.status != 200:
                failures[str(resp.status)] = failures.get(str(resp.status), 0) + 1
                if resp.status == 409:
                    # The link session still counts the previous download as running: the
                    # server allows one transfer per session at a time. Try again shortly.
                    time.sleep(0.005)
                continue
            nbytes = n
        except Exception as err:  # a broken connection: count it, reconnect
            failures[type(err).__name__] = failures.get(type(err).__name__, 0) + 1
            if conn is not None:
                conn.close()
            conn = None
            continue
        lat.append(time.perf_counter() - t)
    lat.sort()
    json.dump({
        "count": len(lat),
        "bytes": nbytes,
        "failures": failures,
        "p50_ms": round(1000 * percentile(lat, 50), 3) if lat else None,
        "p99_ms": round(1000 * percentile(lat, 99), 3) if lat else None,
        "max_ms": round(1000 * lat[-1], 3) if lat else None,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
