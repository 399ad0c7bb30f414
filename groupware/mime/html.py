"""HTML mail made fit to show: the part a reader sees, decoded, and cleaned with nh3 (an
allowlist of tags, attributes, URL schemes and CSS properties).

Cleaning is the second layer. The boundary is the web's: the result is served from its
own URL into a sandboxed frame whose Content-Security-Policy allows no script, no form
and nothing remote (web/mail.py). Remote images are dropped here too, so a message
cannot tell its sender it was opened; `cid:` images and allowing remote ones for a
sender are for the reader to add.
"""

from __future__ import annotations

import re

import nh3

from groupware.mime.charset import decode_octets
from groupware.mime.structure import BodyPart
from groupware.mime.text import decode_transfer

HTML_LIMIT = 2 * 1024 * 1024  # characters of one HTML body shown (more is cut)
# Tags kept: nh3's safe defaults with what mail layouts use.
TAGS = set(nh3.ALLOWED_TAGS) | {"center", "font"}
_COMMON = {"align", "valign", "width", "height", "style", "dir", "lang", "title", "class"}
ATTRIBUTES = {
    "*": _COMMON,
    "a": _COMMON | {"href", "name"},
    "img": _COMMON | {"src", "alt", "border"},
    "font": _COMMON | {"color", "face", "size"},
    "table": _COMMON | {"border", "cellpadding", "cellspacing", "bgcolor"},
    "td": _COMMON | {"colspan", "rowspan", "bgcolor", "nowrap"},
    "th": _COMMON | {"colspan", "rowspan", "bgcolor", "nowrap"},
    "tr": _COMMON | {"bgcolor"},
}
# CSS properties kept in style attributes: none of them can fetch anything.
STYLE_PROPERTIES = {
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "line-height",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "letter-spacing",
    "white-space",
    "vertical-align",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-collapse",
    "border-radius",
    "width",
    "max-width",
    "min-width",
    "height",
    "display",
    "list-style-type",
}
SCHEMES = {"http", "https", "mailto"}  # for links; images keep only data: (below)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def html_part(body: BodyPart) -> BodyPart | None:
    """The HTML a reader sees: the text/html of the message's alternatives, or the first
    inline text/html part; None for a message without one (attached messages and files
    are not read here)."""
    stack = [body]
    while stack:
        part = stack.pop(0)
        if part.children:
            if part.subtype.lower() == "alternative":
                html = [c for c in part.children if c.mime_type == "text/html"]
                nested = [c for c in part.children if c.children]
                stack = html[:1] + nested + stack
            else:
                stack = list(part.children) + stack
        elif part.mime_type == "text/html" and not _attached(part):
            return part
    return None


def clean_html(data: bytes, part: BodyPart) -> str:
    """Part `part` of message `data` decoded and cleaned ("" when undecodable)."""
    raw = data[part.body_start : min(part.body_end, part.body_start + 4 * HTML_LIMIT)]
    octets = decode_transfer(raw, part.encoding)
    if octets is None:
        return ""
    return clean(decode_octets(octets, part.param("charset"))[:HTML_LIMIT])


def clean(markup: str) -> str:
    """`markup` with only the allowlisted tags, attributes, schemes and CSS properties;
    images only from data: URLs; links open in a new window without our referrer."""
    return nh3.clean(
        markup.replace("\x00", ""),
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=SCHEMES | {"data"},
        attribute_filter=_attribute,
        filter_style_properties=STYLE_PROPERTIES,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def _attribute(tag: str, name: str, value: str) -> str | None:
    """Drop what would fetch or run: images but data: ones, data: links. Browsers drop
    control characters and white space inside a scheme ("da&#9;ta:"), so they are
    dropped here before the scheme is read."""
    lowered = _INVISIBLE.sub("", value).lower()
    if tag == "img" and name == "src":
        return value if lowered.startswith("data:image/") else None
    if name == "href" and lowered.startswith("data:"):
        return None
    return value


def _attached(part: BodyPart) -> bool:
    return part.disposition is not None and part.disposition[0].lower() == "attachment"
