"""Thunderbird's autoconfig file (clientConfig 1.1, the format of Mozilla's ISPDB) for a
domain: IMAP and POP3 (implicit TLS first), submission (465 first), the user name
%EMAILADDRESS% (Thunderbird puts the typed address there), and the CalDAV and CardDAV
address in the addressBook and calendar elements Thunderbird reads to offer them after
the mail account is made.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from groupware.services.devices.setup import ClientSetup, Server

MIME_TYPE = "application/xml"
# Thunderbird's names: SSL is TLS from the first byte; authentication over TLS is a
# plain password (we offer PLAIN and LOGIN, nothing weaker, never before TLS).
SOCKET_TYPES = {"tls": "SSL", "starttls": "STARTTLS"}


def thunderbird_config(setup: ClientSetup, domain: str) -> bytes:
    root = ET.Element("clientConfig", version="1.1")
    provider = ET.SubElement(root, "emailProvider", id=domain)
    _text(provider, "domain", domain)
    _text(provider, "displayName", f"{domain} mail")
    _text(provider, "displayShortName", domain)
    for server in setup.incoming():
        _server(provider, "incomingServer", server)
    for server in setup.outgoing():
        _server(provider, "outgoingServer", server)
    portal = setup.portal
    for element, kind in (("addressBook", "carddav"), ("calendar", "caldav")):
        dav = ET.SubElement(root, element, type=kind)
        _text(dav, "username", "%EMAILADDRESS%")
        _text(dav, "authentication", "http-basic")
        _text(dav, "serverURL", portal.dav_url)
    webmail = ET.SubElement(root, "webMail")
    ET.SubElement(webmail, "loginPage", url=portal.origin + "/")
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _server(parent: ET.Element, element: str, server: Server) -> None:
    node = ET.SubElement(parent, element, type=server.protocol)
    _text(node, "hostname", server.host)
    _text(node, "port", str(server.port))
    _text(node, "socketType", SOCKET_TYPES[server.security])
    _text(node, "authentication", "password-cleartext")
    _text(node, "username", "%EMAILADDRESS%")


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text
