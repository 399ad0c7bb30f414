"""Services: each takes the `Database` and returns DTOs; `Services` bundles them, built
once by `build_services`. The subpackages are families, each importing only those below
it (pyproject.toml's layers contract): calendar, delivery, mail | transport, auth,
directory, core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from groupware.config import Config
from groupware.services.auth.credentials import Credentials
from groupware.services.auth.login import Auth
from groupware.services.auth.loginlocks import LoginLocks
from groupware.services.calendar.addressbooks import AddressBooks
from groupware.services.calendar.agenda import Agenda
from groupware.services.calendar.calendars import Calendars
from groupware.services.calendar.freebusy import FreeBusy
from groupware.services.calendar.resources import Resources
from groupware.services.calendar.scheduling import Scheduling
from groupware.services.calendar.sharing import Sharing
from groupware.services.calendar.suggestions import AddressSuggestions
from groupware.services.core.audit import Audit
from groupware.services.core.events import EventHub
from groupware.services.delivery.bounces import Bounces
from groupware.services.delivery.identities import Identities
from groupware.services.delivery.local import LocalDelivery
from groupware.services.delivery.route import MailRouter
from groupware.services.delivery.rules import Rules
from groupware.services.delivery.send import WebSending
from groupware.services.delivery.srs import Srs
from groupware.services.delivery.vacation import Vacation
from groupware.services.devices.setup import ClientSetup
from groupware.services.devices.tickets import DeviceTickets
from groupware.services.directory.accounts import Directory
from groupware.services.directory.aliases import Aliases
from groupware.services.directory.groups import Groups
from groupware.services.directory.roles import Roles
from groupware.services.directory.websessions import WebSessions
from groupware.services.mail.fetch import MessageFetch
from groupware.services.mail.listing import MailView
from groupware.services.mail.mailboxes import Mailboxes
from groupware.services.mail.messages import Messages
from groupware.services.mail.preferences import Preferences
from groupware.services.mail.search import MailSearch
from groupware.services.transport.dkimkeys import DkimKeys
from groupware.services.transport.queue import OutboundQueue
from groupware.services.transport.resolver import Resolver
from groupware.services.transport.submission import Submission
from groupware.store import Database
from groupware.store.blobs import BlobStore, DatabaseBlobStore, FileBlobStore
from groupware.store.groupcommit import GroupCommit


@dataclass(frozen=True)
class Services:
    directory: Directory
    aliases: Aliases
    groups: Groups
    roles: Roles
    credentials: Credentials
    auth: Auth
    audit: Audit
    login_locks: LoginLocks
    events: EventHub
    mailboxes: Mailboxes
    messages: Messages
    search: MailSearch
    fetch: MessageFetch
    mail_view: MailView
    delivery: LocalDelivery
    router: MailRouter
    sending: WebSending
    identities: Identities
    suggestions: AddressSuggestions
    preferences: Preferences
    rules: Rules
    vacation: Vacation
    srs: Srs
    submission: Submission
    queue: OutboundQueue
    resolver: Resolver
    dkim: DkimKeys
    bounces: Bounces
    calendars: Calendars
    sharing: Sharing
    agenda: Agenda
    addressbooks: AddressBooks
    freebusy: FreeBusy
    resources: Resources
    scheduling: Scheduling
    websessions: WebSessions
    client_setup: ClientSetup
    device_tickets: DeviceTickets


def build_services(config: Config, database: Database) -> Services:
    events = EventHub()
    blobs: BlobStore = (
        DatabaseBlobStore()
        if config.store.blobs == "database"
        else FileBlobStore(config.data_dir / "blobs")
    )
    mailboxes = Mailboxes(database, blobs, events)
    fetch, search = MessageFetch(database, blobs), MailSearch(database)
    # One group commit for every small write many clients make at once (deliveries,
    # remembered logins' audit rows): one fsync serves a batch.
    group_commit = GroupCommit(database)
    messages = Messages(database, blobs, events, group_commit)
    directory = Directory(database, config.auth.min_password_length)
    directory.on_user_created.append(mailboxes.ensure_defaults)
    dkim = DkimKeys(database, config.hostname)
    directory.on_domain_added.append(dkim.ensure)
    queue = OutboundQueue(database, blobs, config.outbound)
    rules = Rules(database)
    vacation = Vacation(database)
    auth = Auth(database, config.auth, group_commit)
    credentials = Credentials(database, issuer=config.hostname)
    srs = Srs(database, auth.throttle)  # bad SRS addresses count like failed logins
    calendars = Calendars(database)
    delivery = LocalDelivery(database, messages, rules=rules, vacation=vacation, srs=srs)
    router = MailRouter(delivery, queue, dkim, srs, config.data_dir / "spool")
    freebusy = FreeBusy(calendars)
    resources = Resources(database, directory, calendars, freebusy)
    scheduling = Scheduling(calendars, router, resources)
    calendars.on_item_change.append(scheduling.item_changed)
    router.on_delivered.append(scheduling.message_delivered)
    bounces, submission = Bounces(router, config.hostname), Submission(database)
    identities = Identities(database, submission)
    mail_view = MailView(database, fetch, messages, mailboxes, search, events, config.hostname)
    groups, sharing = Groups(database, events), Sharing(database, calendars, events)
    groups.on_name_freed.append(sharing.forget_group)  # group calendars end with the group
    agenda = Agenda(database, calendars, sharing)
    return Services(
        directory=directory,
        aliases=Aliases(database),
        groups=groups,
        roles=Roles(database, events),
        credentials=credentials,
        auth=auth,
        audit=Audit(database),
        login_locks=LoginLocks(database, auth.throttle),
        events=events,
        mailboxes=mailboxes,
        messages=messages,
        search=search,
        fetch=fetch,
        mail_view=mail_view,
        delivery=delivery,
        router=router,
        sending=WebSending(
            database,
            delivery,
            router,
            bounces,
            submission,
            identities,
            auth,
            mailboxes,
            messages,
            mail_view,
            max_recipients=config.smtp.max_recipients,
            max_message_bytes=config.smtp.max_message_bytes,
        ),
        identities=identities,
        suggestions=AddressSuggestions(database, calendars),
        preferences=Preferences(database),
        rules=rules,
        vacation=vacation,
        srs=srs,
        submission=submission,
        queue=queue,
        resolver=_resolver(config),
        dkim=dkim,
        bounces=bounces,
        calendars=calendars,
        sharing=sharing,
        agenda=agenda,
        addressbooks=AddressBooks(agenda, calendars),
        freebusy=freebusy,
        resources=resources,
        scheduling=scheduling,
        websessions=WebSessions(
            database,
            idle=timedelta(hours=config.web.session_hours),
            lifetime=timedelta(days=config.web.session_max_days),
        ),
        client_setup=ClientSetup(config),
        device_tickets=DeviceTickets(database),
    )


def _resolver(config: Config) -> Resolver:
    """The configured nameservers, else the system's (/etc/resolv.conf)."""
    listed = [n.strip() for n in config.outbound.nameservers.split(",") if n.strip()]
    return Resolver(listed or None)
