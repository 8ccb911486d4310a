#!/usr/bin/env python3
"""SMTP sink for the casevault tests.

Accepts every message on --host/--port and stores each one, as the raw RFC 5322
bytes received after DATA, in its own file ``<maildir>/<timestamp>-<n>.eml``.
``<timestamp>`` is the arrival time in nanoseconds since the Unix epoch and ``<n>``
a counter, both zero-padded, so sorting the names gives arrival order.

Each file is written under a hidden temporary name (``.<name>.part``) and then
renamed, so a reader that lists ``*.eml`` never sees half a message.

Started by scripts/test; usable by hand:

    python3 tests/support/smtp_sink.py --host 127.0.0.1 --port 2525 --maildir /tmp/mail
"""

import argparse
import asyncio
import os
import signal
import sys
import time

from aiosmtpd.smtp import SMTP


class MaildirSink:
    """aiosmtpd handler that writes every message to its own .eml file."""

    def __init__(self, maildir: str) -> None:
        self.maildir = maildir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        self.count += 1
        name = f"{time.time_ns():020d}-{self.count:06d}.eml"
        tmp = os.path.join(self.maildir, f".{name}.part")
        final = os.path.join(self.maildir, name)
        with open(tmp, "wb") as f:
            f.write(raw)
        os.rename(tmp, final)
        print(
            f"smtp_sink: saved {name} ({len(raw)} bytes) from {envelope.mail_from!r} "
            f"to {envelope.rcpt_tos!r}",
            flush=True,
        )
        return "250 Message accepted"


async def serve(host: str, port: int, maildir: str) -> None:
    loop = asyncio.get_running_loop()
    handler = MaildirSink(maildir)
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="casevault-smtp-sink",
            data_size_limit=128 * 1024 * 1024,
            enable_SMTPUTF8=True,
        ),
        host=host,
        port=port,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"smtp_sink: listening on {host}:{port}, saving to {maildir}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()
    print(f"smtp_sink: stopped after {handler.count} message(s)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    args = parser.parse_args()
    os.makedirs(args.maildir, exist_ok=True)
    asyncio.run(serve(args.host, args.port, args.maildir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
