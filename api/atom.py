"""An Atom 1.0 feed (RFC 4287) of CAP 1.2 messages, the form alert hubs and aggregators poll. Pure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime

from alerts.cap import NS as CAP_NS
from api.queries.cap import CapMessage
from api.schemas.common import iso_z

ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"


def headline(xml: str) -> str:
    """The English headline of a CAP document (the first one when none is English)."""
    root = ET.fromstring(xml)
    infos = root.findall(f"{{{CAP_NS}}}info")
    english = [i for i in infos if (i.findtext(f"{{{CAP_NS}}}language") or "").startswith("en")]
    chosen = (english or infos or [root])[0]
    return chosen.findtext(f"{{{CAP_NS}}}headline") or root.findtext(f"{{{CAP_NS}}}identifier") or ""


def feed(messages: Sequence[CapMessage], self_url: str, message_url: str, now: datetime, author: str) -> str:
    """The feed document; ``message_url`` has ``{identifier}`` where each message's id goes."""
    ET.register_namespace("", ATOM_NS)

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    root = ET.Element(f"{{{ATOM_NS}}}feed")
    add(root, "id", self_url)
    add(root, "title", "UrbanPulse Ho Chi Minh City: public alerts (CAP 1.2)")
    add(root, "updated", iso_z(messages[0].sent if messages else now))
    add(add(root, "author"), "name", author)
    add(root, "link", rel="self", href=self_url)
    for item in messages:
        entry = add(root, "entry")
        add(entry, "id", f"urn:oid:{item.identifier}")
        add(entry, "title", f"{item.msg_type}: {headline(item.xml)}")
        add(entry, "updated", iso_z(item.sent))
        add(entry, "link", rel="alternate", type=CAP_MEDIA_TYPE, href=message_url.format(identifier=item.identifier))
        add(entry, "category", term=item.msg_type)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
