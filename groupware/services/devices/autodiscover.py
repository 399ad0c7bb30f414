"""Outlook's Autodiscover in its plain-old-XML form (MS-OXDSCLI): the request names an
address, the answer lists IMAP and SMTP servers for it.

Every well-formed request gets the same answer but for the address it named, whether
or not that address exists here, so that the endpoint tells nobody who has an account.
The request is parsed only after its size is bounded, by defusedxml with any DTD
refused (no entity can be declared, so none can expand), in any encoding it declares.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from groupware.errors import InvalidInput
from groupware.services.core.addresses import normalize_address
from groupware.services.devices.setup import ClientSetup, Server

MIME_TYPE = "application/xml"
MAX_REQUEST = 16 * 1024
RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
PROTOCOL_TYPES = {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}


def requested_address(body: bytes) -> str:
    """The EMailAddress of an Autodiscover request; InvalidInput says what is wrong."""
    if len(body) > MAX_REQUEST:
        raise InvalidInput("Autodiscover request too large")
    try:
        # defusedxml refuses a DTD (and so any entity) in whatever encoding the body
        # declares; a bytes check for "<!" missed UTF-16.
        root = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException:
        raise InvalidInput("Autodiscover request with a DTD") from None
    except (ET.ParseError, ValueError, LookupError):  # LookupError: an unknown encoding
        raise InvalidInput("Autodiscover request is not well-formed XML") from None
    for node in root.iter():
        if node.tag.rpartition("}")[2] == "EMailAddress" and node.text:
            try:
                return normalize_address(node.text.strip())
            except InvalidInput:
                break
    raise InvalidInput("Autodiscover request names no address")


def outlook_settings(setup: ClientSetup, address: str) -> bytes:
    root = ET.Element("Autodiscover", xmlns=RESPONSE_NS)
    response = ET.SubElement(root, "Response", xmlns=OUTLOOK_NS)
    account = ET.SubElement(response, "Account")
    _text(account, "AccountType", "email")
    _text(account, "Action", "settings")
    first: dict[str, Server] = {}
    for server in setup.incoming() + setup.outgoing():
        first.setdefault(server.protocol, server)  # Outlook takes one of each protocol
    for server in first.values():
        _protocol(account, server, address)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def outlook_error(code: str, message: str) -> bytes:
    """The answer to a request we could not read (MS-OXDSCLI 2.2.4.2.1.1: 600 invalid)."""
    root = ET.Element("Autodiscover", xmlns=RESPONSE_NS)
    response = ET.SubElement(root, "Response")
    error = ET.SubElement(response, "Error", Id="0", Time="00:00:00")
    _text(error, "ErrorCode", code)
    _text(error, "Message", message)
    _text(error, "DebugData", "")
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _protocol(account: ET.Element, server: Server, address: str) -> None:
    node = ET.SubElement(account, "Protocol")
    _text(node, "Type", PROTOCOL_TYPES[server.protocol])
    _text(node, "Server", server.host)
    _text(node, "Port", str(server.port))
    _text(node, "LoginName", address)
    _text(node, "DomainRequired", "off")
    _text(node, "SPA", "off")
    # SSL=on with Encryption: "SSL" is TLS from the first byte, "TLS" is STARTTLS.
    _text(node, "SSL", "on")
    _text(node, "Encryption", "SSL" if server.implicit_tls else "TLS")
    _text(node, "AuthRequired", "on")
    if server.protocol == "smtp":
        _text(node, "UsePOPAuth", "on")
        _text(node, "SMTPLast", "off")


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text
