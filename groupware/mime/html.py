"""HTML mail made fit to show: the part a reader sees, decoded, and cleaned with nh3 (an
allowlist of tags, attributes, URL schemes and CSS properties).

Cleaning is the second layer. The boundary is the web's: the result is served from its
own URL into a sandboxed frame whose Content-Security-Policy allows no script, no form
and nothing remote (web/mail.py). Remote images are dropped here too, so a message
cannot tell its sender it was opened, unless the reader allows them (`remote`).
Images the message carries (`cid:` URLs, RFC 2392) become data: URLs, so the frame
needs no access to the user's mail to show them.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import nh3

from groupware.mime.charset import decode_octets
from groupware.mime.structure import BodyPart, walk
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
# Images a message carries that are shown in it: kinds every browser decodes and that
# run nothing (no SVG), each up to IMAGE_LIMIT octets and IMAGES_LIMIT in all.
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
IMAGE_LIMIT = 5 * 1024 * 1024
IMAGES_LIMIT = 20 * 1024 * 1024  # characters of data: URLs in one page
MAX_IMAGES = 200  # cid: references replaced in one page
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


def clean_html(
    data: bytes, part: BodyPart, body: BodyPart | None = None, *, remote: bool = False
) -> str:
    """Part `part` of message `data` decoded and cleaned ("" when undecodable); its
    `cid:` images found among the parts of `body`; remote images kept if `remote`."""
    markup = html_source(data, part)
    images = _Images(data, body) if body is not None else None
    return clean(markup, images=images, remote=remote)


def html_source(data: bytes, part: BodyPart) -> str:
    """The HTML of part `part`, decoded but not cleaned: never to be shown as it is."""
    raw = data[part.body_start : min(part.body_end, part.body_start + 4 * HTML_LIMIT)]
    octets = decode_transfer(raw, part.encoding)
    if octets is None:
        return ""
    return decode_octets(octets, part.param("charset"))[:HTML_LIMIT]


def clean(
    markup: str,
    *,
    images: Callable[[str], str | None] | None = None,
    remote: bool = False,
    dropped: list[str] | None = None,
) -> str:
    """`markup` with only the allowlisted tags, attributes, schemes and CSS properties;
    images only from data: URLs, `cid:` ones as `images` gives them (a data: URL) and
    http(s) ones if `remote` (else they are added to `dropped`); links open in a new
    window without our referrer."""

    def attribute(tag: str, name: str, value: str) -> str | None:
        """Drop what would fetch or run: images but data: (and cid:, or remote when
        allowed) ones, data: links. Browsers drop control characters and white space
        inside a scheme ("da&#9;ta:"), so they are dropped before the scheme is read."""
        lowered = _INVISIBLE.sub("", value).lower()
        if tag == "img" and name == "src":
            if lowered.startswith("data:image/"):
                return value
            if lowered.startswith("cid:") and images is not None:
                return images(value.strip()[4:])
            if lowered.startswith(("https://", "http://")):
                if remote:
                    return value
                if dropped is not None:
                    dropped.append(value)
            return None
        if name == "href" and lowered.startswith("data:"):
            return None
        return value

    return nh3.clean(
        markup.replace("\x00", ""),
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=SCHEMES | {"data", "cid"},
        attribute_filter=attribute,
        filter_style_properties=STYLE_PROPERTIES,
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def has_remote_images(data: bytes, part: BodyPart) -> bool:
    """Whether the HTML of part `part` shows images from the network (which are not
    loaded until the reader allows them): what cleaning drops, as it reads the markup
    (linear, where a pattern over hostile markup need not be)."""
    dropped: list[str] = []
    clean(html_source(data, part), dropped=dropped)
    return bool(dropped)


class _Images:
    """The images of a message by Content-ID, as data: URLs: each decoded once, at
    most IMAGE_LIMIT octets each, IMAGES_LIMIT of data: URLs in all (an image shown
    twice counts twice: it is in the page twice) and MAX_IMAGES references."""

    def __init__(self, data: bytes, body: BodyPart) -> None:
        self._data = data
        self._parts = {
            part.id.strip().strip("<>"): part
            for part in walk(body)
            if part.id and part.mime_type in IMAGE_TYPES and not part.children
        }
        self._urls: dict[str, str | None] = {}
        self._room = IMAGES_LIMIT
        self._left = MAX_IMAGES

    def __call__(self, content_id: str) -> str | None:
        if self._left <= 0:
            return None
        self._left -= 1
        key = _unquote_cid(content_id)
        if key not in self._urls:
            self._urls[key] = self._decode(self._parts.get(key))
        url = self._urls[key]
        if url is None or len(url) > self._room:
            return None
        self._room -= len(url)
        return url

    def _decode(self, part: BodyPart | None) -> str | None:
        # Base64 is 4/3 of what it holds: a part too big is refused before decoding.
        if part is None or part.size * 3 // 4 > IMAGE_LIMIT + 3:
            return None
        octets = decode_transfer(self._data[part.body_start : part.body_end], part.encoding)
        if octets is None or len(octets) > IMAGE_LIMIT:
            return None
        return f"data:{part.mime_type};base64,{base64.b64encode(octets).decode()}"


def _unquote_cid(text: str) -> str:
    """A cid: URL's Content-ID (RFC 2392: percent-encoded, without the brackets)."""
    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text).strip("<>")


def _attached(part: BodyPart) -> bool:
    return part.disposition is not None and part.disposition[0].lower() == "attachment"
