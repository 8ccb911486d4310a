#!/usr/bin/env python3
"""Open-loop HTTPS request generator for the password-flood case of bench/run.

Sends POST {path} with a JSON body at a fixed rate for a fixed time, whatever the server's
answers (open loop: a slow answer does not slow the schedule), over a pool of keep-alive
connections that grows when every connection is busy (at most --max-conns). With --sources N
the connections are spread over N loopback source addresses (127.0.1.1 …), as from N clients.
Prints one JSON object: requests sent and answered, answers per status, achieved rate and the
latency percentiles of the answers.

Stdlib only. Not a test: it asserts nothing.
"""

import argparse
import asyncio
import json
import ssl
import sys
import time


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


class Conn:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, close


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", action="append", required=True,
                    help="request path; several are used in turn")
    ap.add_argument("--body", required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--sources", type=int, default=1)
    ap.add_argument("--max-conns", type=int, default=256)
    args = ap.parse_args()

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    body = args.body.encode()

    idle = []
    open_count = 0
    next_source = 0
    statuses = {}
    latencies = []
    errors = 0
    sent = 0
    skipped = 0

    async def connect():
        nonlocal open_count, next_source
        open_count += 1
        try:
            local = None
            if args.sources > 1:
                n = next_source % args.sources
                next_source += 1
                local = (f"127.0.{1 + n // 250}.{1 + n % 250}", 0)
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", args.port, ssl=ctx, server_hostname="localhost", local_addr=local)
            return Conn(reader, writer)
        except Exception:
            open_count -= 1
            raise

    async def one(i):
        nonlocal errors, open_count
        path = args.path[i % len(args.path)]
        request = (
            f"POST {path} HTTP/1.1\r\nHost: localhost:{args.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        t = time.perf_counter()
        conn = idle.pop() if idle else None
        try:
            if conn is None:
                conn = await connect()
            conn.writer.write(request)
            await conn.writer.drain()
            status, close = await asyncio.wait_for(read_response(conn.reader), 30)
        except Exception:
            errors += 1
            if conn is not None:
                conn.writer.close()
                open_count -= 1
            return
        latencies.append(time.perf_counter() - t)
        statuses[status] = statuses.get(status, 0) + 1
        if close:
            conn.writer.close()
            open_count -= 1
        else:
            idle.append(conn)

    tasks = []
    start = time.perf_counter()
    total = int(args.rate * args.duration)
    for i in range(total):
        due = start + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle and open_count >= args.max_conns:
            skipped += 1  # every connection busy: this attempt is dropped, and counted
            continue
        sent += 1
        tasks.append(asyncio.ensure_future(one(i)))
    send_time = time.perf_counter() - start
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    for conn in idle:
        conn.writer.close()
    latencies.sort()
    out = {
        "planned": total,
        "sent": sent,
        "skipped_all_busy": skipped,
        "answered": len(latencies),
        "errors": errors,
        "send_seconds": round(send_time, 3),
        "rate": round(sent / send_time, 1) if send_time > 0 else 0,
        "statuses": statuses,
        "p50_ms": round(1000 * percentile(latencies, 50), 3) if latencies else None,
        "p99_ms": round(1000 * percentile(latencies, 99), 3) if latencies else None,
        "max_conns_used": args.max_conns,
    }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    asyncio.run(main())
