"""Settings → Devices: set up an iPhone, iPad or Mac with one profile (downloaded here,
or on a phone through a one-time link shown as a QR code), the server names, ports and
security modes for any other app, and the account's app passwords.

The one-time link is made by a POST that wants the password typed recently (it can bring
an app password into being); its secret waits in the server-side session until the page
shows it, like a new app password does.
"""

from __future__ import annotations

from datetime import UTC, datetime

import segno
from flask import Blueprint, flash, redirect, render_template, session, url_for
from werkzeug.wrappers import Response

from groupware.web.context import attempt, login_gate, principal, services
from groupware.web.discovery import profile_download
from groupware.web.forms import ActionForm, AppPasswordForm, DeviceLinkForm
from groupware.web.reauth import fresh_login_required

blueprint = Blueprint("devices", __name__, url_prefix="/settings/devices")
LINK_KEY = "device_link"


@blueprint.before_request
def _logged_in() -> Response | None:
    return login_gate()


@blueprint.get("")
def overview() -> str:
    me, svc = principal(), services()
    setup = svc.client_setup
    needs_password = svc.device_tickets.needs_password(me)
    link = session.pop(LINK_KEY, None)
    qr = None
    if link is not None:
        url = setup.portal.origin + url_for("discovery.profile_link", secret=link[1])
        link = {"device": link[0], "url": url, "with_password": link[2]}
        qr = segno.make(url, error="m").svg_data_uri(scale=4, dark="#000", light="#fff")
    return render_template(
        "devices.html",
        setup=setup,
        address=me.address,
        needs_password=needs_password,
        link=link,
        qr=qr,
        form=DeviceLinkForm(with_password=needs_password),
        open_links=svc.device_tickets.open_links(me),
        now=datetime.now(UTC),
        app_passwords=svc.credentials.app_passwords(me, me.address),
        new_secret=session.pop("new_app_password", None),
        app_form=AppPasswordForm(),
        action=ActionForm(),
        back="devices",
    )


@blueprint.get("/apple.mobileconfig")
def apple_profile() -> Response:
    """This account's profile without a password (the device asks for it)."""
    me, svc = principal(), services()
    if svc.device_tickets.needs_password(me):
        flash("With two-factor login on, a profile needs an app password: make one below.", "error")
        return redirect(url_for("devices.overview"))
    name = svc.directory.get_user(me, me.address).display_name
    return profile_download(me.address, name, None)


@blueprint.post("/link")
@fresh_login_required("devices.overview")
def make_link() -> Response:
    form = DeviceLinkForm()
    if form.validate_on_submit():
        me, tickets = principal(), services().device_tickets
        with_password = bool(form.with_password.data) or tickets.needs_password(me)
        device = form.device.data
        secret = attempt(
            lambda: tickets.issue(me, device, with_password),
            "Open the link on the device (or scan the code) within 15 minutes; it works once.",
        )
        if secret is not None:
            session[LINK_KEY] = [" ".join(device.split()), secret, with_password]
    else:
        flash("Name the device, e.g. Alice's iPhone.", "error")
    return redirect(url_for("devices.overview"))


@blueprint.post("/links/<int:link_id>/cancel")
def cancel_link(link_id: int) -> Response:
    if ActionForm().validate_on_submit():
        me = principal()
        attempt(lambda: services().device_tickets.cancel(me, link_id), "Profile link cancelled.")
    return redirect(url_for("devices.overview"))
