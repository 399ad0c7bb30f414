"""Delivery status notifications (RFC 3464) back to a sender, sent through the router
with the null sender: into a local mailbox when we host the sender (or on to the original
sender behind one of our SRS addresses), else through the queue.

Used by the outbound worker (remote failures) and SMTP (local mailboxes full); the report
bytes come from mime/dsn.py. Never a bounce for a bounce (RFC 5321 §4.5.5).
"""

from __future__ import annotations

from groupware.mime.dsn import compose_dsn
from groupware.services.delivery.route import MailRouter


class Bounces:
    def __init__(self, router: MailRouter, hostname: str) -> None:
        self._router = router
        self.hostname = hostname

    def report(
        self,
        sender: str,
        original: bytes,
        failures: list[tuple[str, str, str]],
        *,
        envid: str | None = None,
        headers_only: bool = False,
    ) -> None:
        """Tell `sender` that `failures` [(recipient, remote host, reply)] failed."""
        if not sender:
            return  # the null sender: a bounce is never bounced
        report = compose_dsn(
            reporting_mta=self.hostname,
            sender=sender,
            original=original,
            failures=failures,
            envid=envid,
            headers_only=headers_only,
        )
        self._router.bounce(sender, report)
