#!/usr/bin/env python3
"""A real SMTP server for leitstand-notify's contract test.

Runs Debian's aiosmtpd (python3-aiosmtpd) on 127.0.0.1:<port> and writes
every accepted message to <dir>/<n>.eml (envelope as X-Envelope-* lines,
then the data exactly as received) and, decoded by Python's own MIME
parser, to <dir>/<n>.json (headers, text part, HTML part) -- so the test
checks what a real mail client would see, not our own encoder's view.

Recipients steer the answer, like a real server's policy would:
  reject*@...    -> 550 (permanent: unknown mailbox)
  tempfail*@...  -> 451 (transient: try again later)
  ratelimit*@... -> 450 (transient: rate limited)
With --user/--password, AUTH PLAIN/LOGIN is offered on the plain
connection (loopback only) and checked.

Prints "ready <port>" once it accepts connections; stops on SIGTERM/SIGINT.
"""

import argparse
import email
import email.policy
import json
import os
import signal
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if local.startswith("tempfail"):
            return "451 4.3.0 <%s>: Temporary lookup failure, try again later" % address
        if local.startswith("ratelimit"):
            return "450 4.7.1 <%s>: Rate limit exceeded, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        head = "X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (envelope.mail_from, ", ".join(envelope.rcpt_tos))
        self._write(n, "eml", head.encode("utf-8") + data)

        msg = email.message_from_bytes(data, policy=email.policy.default)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        decoded = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "content_type": msg.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }
        self._write(n, "json", json.dumps(decoded).encode("utf-8"))
        return "250 2.0.0 OK queued as %d" % n

    def _write(self, n, ext, data):
        path = os.path.join(self.directory, "%d.%s" % (n, ext))
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    kwargs = {}
    if args.user is not None:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == args.user
                and auth_data.password.decode() == args.password
            )
            # handled=False: aiosmtpd then answers 535 itself (handled=True
            # would leave the client waiting for an answer that never comes).
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        kwargs = {"authenticator": authenticator, "auth_require_tls": False}

    controller = Controller(Sink(args.dir), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("ready %d" % args.port, flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
