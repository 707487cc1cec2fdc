"""The rules file is validated with messages that name the rule and field; CAP documents are valid CAP 1.2."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from alerts import cap
from alerts.engine import DEFAULT_RULES, RuleSource
from alerts.errors import RulesError
from alerts.rules import Severity, load_rules, parse_rules
from tests.alerts.cap_schema import assert_valid_cap

NS = {"cap": cap.NS}


def test_the_shipped_rules_load() -> None:
    book = load_rules(DEFAULT_RULES)
    kinds = {r.kind for r in book.rules}
    assert {"threshold", "rate_of_rise", "forecast_exceedance", "flood_tier", "congestion", "stale", "flatline",
            "spike", "rate_of_change", "offline", "backlog", "clock"} <= kinds  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('version = "1"\n[[rules]]\nname = "flood"\nkind = "threshold"\nmetric = "water"\nlevel = 1',
         "rule flood.metric: Input should be 'water_level'"),
        ('version = "1"\n[[rules]]\nname = "flood"\nkind = "threshold"\nmetric = "water_level"\nlevel = 1\n'
         "for_s = -5", "rule flood.for_s: Input should be greater than or equal to 0"),
        ('version = "1"\n[[rules]]\nname = "x1"\nkind = "teleport"', "rule x1: Input tag 'teleport'"),
        ('version = "1"\n[[rules]]\nname = "flood"\nkind = "stale"\ncadense = 3', "rule flood.cadense: Extra inputs"),
        ('version = "1"\n[[rules]]\nname = "a1"\nkind = "stale"\n[[rules]]\nname = "a1"\nkind = "offline"',
         "rule names must be unique; repeated: a1"),
        ("[[rules]]\nname = 'a1'\nkind = 'stale'", "version: Field required"),
        ("version = ", "not valid TOML"),
        ('version = "1"\n[[rules]]\nname = "flood-alert"\nkind = "flood_tier"\ntier = "emergency"',
         "rule flood-alert.tier: Input should be 'watch' or 'warning'"),
    ],
)  # fmt: skip
def test_a_wrong_rules_file_is_refused_naming_the_rule_and_field(text: str, message: str) -> None:
    with pytest.raises(RulesError, match="^rules: ") as caught:
        parse_rules(text)
    assert message in str(caught.value)


def test_a_bad_edit_is_not_loaded_and_the_last_good_rules_stay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('version = "1"\n[[rules]]\nname = "quiet"\nkind = "stale"\n')
    source = RuleSource(path)
    path.write_text('version = "2"\n[[rules]]\nname = "quiet"\nkind = "stale"\ncadences = 0.5\n')
    assert source.current().version == "1"
    assert "rules not reloaded, keeping version 1" in caplog.text and "cadences" in caplog.text
    path.write_text('version = "3"\n[[rules]]\nname = "quiet"\nkind = "stale"\ncadences = 3\n')
    assert source.current().version == "3" and source.current().rules[0].cadences == 3  # type: ignore[union-attr]


def _forecast_alert() -> cap.CapAlert:
    return cap.CapAlert(
        alert_id=7, message_number=1, msg_type="Alert", sent=1_762_700_000.0, rule="flood-forecast",
        metric="water_level", forecast=True, severity=Severity.SEVERE, value=None, threshold=0.1, probability=0.83,
        onset=1_762_700_000.0 + 2700, expires=1_762_700_000.0 + 6 * 3600, place="Nguyễn Hữu Cảnh",
        ward="Phường 22", district="Bình Thạnh", latitude=10.7925, longitude=106.7188,
    )  # fmt: skip


def test_alert_update_and_cancel_documents_are_valid_cap_1_2_in_vietnamese_and_english() -> None:
    alert = _forecast_alert()
    first = cap.document(alert, "ops@hcmc.example", "UrbanPulse")
    update = dataclasses.replace(alert, msg_type="Update", message_number=2,
                                 references=((cap.identifier(7, 1), alert.sent),))  # fmt: skip
    both = ((cap.identifier(7, 1), alert.sent), (cap.identifier(7, 2), alert.sent))
    cancel = dataclasses.replace(alert, msg_type="Cancel", message_number=3, references=both)
    observed = dataclasses.replace(alert, forecast=False, value=0.34, probability=None, onset=alert.sent)
    for item in (update, cancel, observed):
        assert_valid_cap(cap.document(item, "ops@hcmc.example", "U"))
    for document in (first,):
        assert_valid_cap(document)
    root = ET.fromstring(first)
    infos = root.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["vi-VN", "en-US"]
    english = infos[1]
    assert english.findtext("cap:urgency", namespaces=NS) == "Immediate"  # crossing in 45 min
    assert english.findtext("cap:certainty", namespaces=NS) == "Likely"
    assert english.findtext("cap:severity", namespaces=NS) == "Severe"
    assert (
        english.findtext("cap:area/cap:areaDesc", namespaces=NS)
        == "Nguyễn Hữu Cảnh, Phường 22, Bình Thạnh, Ho Chi Minh City"
    )
    assert english.findtext("cap:area/cap:circle", namespaces=NS) == "10.79250,106.71880 0.5"
    assert "probability 83%" in (english.findtext("cap:description", namespaces=NS) or "")
    cancelled = ET.fromstring(cap.document(cancel, "ops@hcmc.example", "U"))
    assert cancelled.findtext("cap:references", namespaces=NS).split() == [  # type: ignore[union-attr]
        f"ops@hcmc.example,{cap.identifier(7, 1)},2025-11-09T21:53:20+07:00",
        f"ops@hcmc.example,{cap.identifier(7, 2)},2025-11-09T21:53:20+07:00",
    ]
    assert cancelled.find("cap:info/cap:responseType", NS) is not None


def test_urgency_follows_the_lead_time() -> None:
    assert [cap.urgency(s, "Alert") for s in (None, 600, 3 * 3600, 12 * 3600)] == [
        "Immediate", "Immediate", "Expected", "Future"]  # fmt: skip
    assert cap.urgency(600, "Cancel") == "Past"


def test_a_flood_watch_is_expected_and_possible_a_flood_warning_immediate_and_likely() -> None:
    """As flood services issue them, whatever the lead time or probability (CAP 1.2 urgency/certainty)."""
    base = _forecast_alert()
    for tier, lead_s, p, words in (("watch", 4 * 3600, 0.2, ("Expected", "Possible", "Flood Watch")),
                                   ("warning", 40 * 60, 0.6, ("Immediate", "Likely", "Flood Warning"))):  # fmt: skip
        alert = dataclasses.replace(base, rule=f"flood-{tier}", tier=tier, probability=p, onset=base.sent + lead_s)
        document = cap.document(alert, "ops@hcmc.example", "UrbanPulse")
        assert_valid_cap(document)
        vi, en = ET.fromstring(document).findall("cap:info", NS)
        assert (en.findtext("cap:urgency", namespaces=NS), en.findtext("cap:certainty", namespaces=NS)) == words[:2]
        assert en.findtext("cap:event", namespaces=NS) == words[2]
        assert vi.findtext("cap:event", namespaces=NS) == cap.TIER_WORDS[tier][2]
        assert words[2] in (en.findtext("cap:headline", namespaces=NS) or "")
    # Without a tier a 4-hour lead is Expected but a 20 % forecast is only Possible; a watch says so outright.
    assert cap.urgency(4 * 3600, "Alert") == "Expected" and cap.urgency(600, "Alert", "watch") == "Expected"
    assert cap.urgency(600, "Cancel", "warning") == "Past"
