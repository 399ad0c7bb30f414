"""What apps ask before anyone has logged in: Thunderbird's autoconfig file, Outlook's
Autodiscover, and the one-time profile links the Devices page's QR codes open.

Autoconfig answers for the domains hosted here (asked by ?emailaddress= or by the
autoconfig.<domain> host name) and 404 for others; Autodiscover answers every address
alike (no enumeration). Both come from services.client_setup, the configured listeners.
"""

from __future__ import annotations

from flask import Blueprint, abort, request
from werkzeug.wrappers import Response

from groupware.errors import InvalidInput, NotFound
from groupware.services.core.addresses import domain_of
from groupware.services.devices import autoconfig, autodiscover, profiles
from groupware.web.context import download, services

blueprint = Blueprint("discovery", __name__)
# A profile link's path is its credential: the access log writes this instead.
HIDDEN_ENDPOINTS = frozenset({"discovery.profile_link"})
HIDDEN_PATH = "/devices/profile/(secret)"


@blueprint.get("/.well-known/autoconfig/mail/config-v1.1.xml")
@blueprint.get("/mail/config-v1.1.xml")
def thunderbird() -> Response:
    domain = services().directory.hosted_domain(_asked_domain())
    if domain is None:
        abort(404)
    body = autoconfig.thunderbird_config(services().client_setup, domain)
    return Response(body, mimetype=autoconfig.MIME_TYPE)


def _asked_domain() -> str:
    """From ?emailaddress=, else from the host name autoconfig.<domain>."""
    address = request.args.get("emailaddress", "")
    if "@" in address:
        return domain_of(address)
    host = request.host.partition(":")[0].lower()
    return host.removeprefix("autoconfig.") if host.startswith("autoconfig.") else ""


@blueprint.post("/autodiscover/autodiscover.xml")
@blueprint.post("/Autodiscover/Autodiscover.xml")
def outlook() -> Response:
    body = request.stream.read(autodiscover.MAX_REQUEST + 1)
    try:
        address = autodiscover.requested_address(body)
    except InvalidInput as error:
        answer = autodiscover.outlook_error("600", f"Invalid Request: {error}")
        return Response(answer, status=400, mimetype=autodiscover.MIME_TYPE)
    answer = autodiscover.outlook_settings(services().client_setup, address)
    return Response(answer, mimetype=autodiscover.MIME_TYPE)


@blueprint.get("/devices/profile/<secret>")
def profile_link(secret: str) -> Response:
    if request.method == "HEAD":  # link previews ask too: only a GET uses the link up
        return Response(status=200, mimetype=profiles.MIME_TYPE)
    svc = services()
    try:
        redeemed = svc.device_tickets.redeem(secret)
    except NotFound as error:
        return Response(str(error) + "\n", status=404, mimetype="text/plain")
    me = redeemed.principal
    name = svc.directory.get_user(me, me.address).display_name
    return profile_download(me.address, name, redeemed.password)


def profile_download(address: str, name: str, password: str | None) -> Response:
    """The profile as a download, signed when the server's certificate can sign it."""
    setup = services().client_setup
    body = profiles.packaged(setup, profiles.apple_profile(setup, address, name, password))
    return download(body, profiles.MIME_TYPE, setup.hostname, ".mobileconfig")
