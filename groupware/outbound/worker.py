"""The outbound worker: releases the webmail's held messages when their time comes
(undo and scheduled send, services/delivery/send.py); claims due recipients, finds
where their domain takes mail (transport map, else MX, else A/AAAA; a null MX refuses),
delivers, records the outcome, and reports failures to the sender with a DSN (never for
a bounce).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from groupware.blocking import Blocking
from groupware.config import Config, Endpoint, parse_transport
from groupware.errors import GroupwareError
from groupware.outbound.client import ConnectionFailed, send
from groupware.services import Services
from groupware.services.transport.queue import AttemptResult, Bounce, Job

log = logging.getLogger(__name__)
SMTP_PORT = 25
NULL_MX = "550 5.1.10 The domain accepts no mail (null MX, RFC 7505)"


class OutboundWorker:
    """Runs on the runtime's loop while serving; `poll` is how often it looks for work."""

    name = "outbound"
    port = 0

    def __init__(
        self, config: Config, services: Services, blocking: Blocking, poll: float = 2.0
    ) -> None:
        self.config = config
        self.services = services
        self.blocking = blocking
        self.poll = poll
        self.routes: dict[str, Endpoint] = parse_transport(config.outbound.transport)
        self._task: asyncio.Task[None] | None = None
        self._limit = asyncio.Semaphore(config.outbound.concurrency)

    async def start(self) -> None:
        # Webmail messages a crash caught while they were being sent go again.
        recovered = await self.blocking.call(self.services.sending.recover)
        if recovered:
            log.info("%d held webmail messages will be sent again", recovered)
        self._task = asyncio.create_task(self._run(), name="outbound")

    def stop_accepting(self) -> None:
        """A draining worker sends no more: the new workers' queue runner does (on
        SQLite only one may run)."""
        if self._task is not None:
            self._task.cancel()

    def busy(self) -> int:
        return 0

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep draining the queue whatever one round hit
                log.exception("outbound round failed")
            await asyncio.sleep(self.poll)

    async def run_once(self) -> None:
        await self.blocking.call(self.services.sending.release_due)  # webmail's held mail
        queue = self.services.queue
        jobs = await self.blocking.call(queue.claim_due)
        await asyncio.gather(*(self._deliver(job) for job in jobs))
        for bounce in await self.blocking.call(queue.bounces_due):
            await self.blocking.call(self._bounce, bounce)
        await self.blocking.call(queue.sweep)

    async def _deliver(self, job: Job) -> None:
        async with self._limit:
            data = await self.blocking.call(self.services.queue.read_message, job.blob_id)
            outcomes = await self._attempt(job, data)
            await self.blocking.call(self.services.queue.record, outcomes)

    async def _attempt(self, job: Job, data: bytes) -> list[AttemptResult]:
        try:
            hosts = await self._hosts(job.domain)
        except GroupwareError as error:  # DNS trouble: try again later
            return [AttemptResult(rid, 0, f"451 4.4.3 {error}") for rid, _ in job.recipients]
        if hosts is None:
            return [AttemptResult(rid, 550, NULL_MX) for rid, _ in job.recipients]
        addresses = [address for _, address in job.recipients]
        failure = "451 4.4.1 no host could be reached"
        for host, port in hosts:
            try:
                replies = await send(
                    host,
                    port,
                    helo=self.config.hostname,
                    mail_from=job.mail_from,
                    recipients=addresses,
                    data=data,
                    timeout=self.config.outbound.connect_timeout,
                )
            except ConnectionFailed as error:
                failure = f"451 4.4.1 {error}"
                continue
            by_address = dict(job.recipients)
            ids = {address: rid for rid, address in by_address.items()}
            return [
                AttemptResult(ids[a], r.code, f"{r.code} {r.text}", host)
                for a, r in replies.items()
            ]
        return [AttemptResult(rid, 0, failure) for rid, _ in job.recipients]

    async def _hosts(self, domain: str) -> list[tuple[str, int]] | None:
        """Where to connect, in order; None for a domain that accepts no mail."""
        route = self.routes.get(domain) or self.routes.get("*")
        if route is not None:
            return [(route.host, route.port)]
        resolver = self.services.resolver
        exchanges = await self.blocking.call(resolver.mx, domain)
        if exchanges == [(0, ".")]:
            return None
        if not exchanges:
            return [(domain, SMTP_PORT)]  # RFC 5321 §5.1: the implicit MX
        return [(host.rstrip("."), SMTP_PORT) for _, host in exchanges]

    def _bounce(self, bounce: Bounce) -> None:
        """Report the failures to the sender (RFC 3464), then mark them reported."""
        self.services.bounces.report(
            bounce.mail_from,
            self.services.queue.read_message(bounce.blob_id),
            list(bounce.failures),
            envid=bounce.envid,
            headers_only=bounce.headers_only,
        )
        self.services.queue.mark_reported(bounce.message_id)
