"""The rules file: what to alert on, how loud, and whom to tell - versioned, validated at start-up.

A TOML file shaped like ``alerts/default_rules.toml`` (the rules shipped with UrbanPulse): a
``version`` string (bump it with every change; it is stored with the rules), ``[[rules]]`` each
with a ``kind`` and that kind's parameters, ``[grouping]``, ``[[contacts]]`` tiers and ``[cap]``.
Loading refuses an unknown key, a duplicate rule name or a parameter out of range, naming the rule
and the field, so a typo never silently disables an alarm. Pure: no database, no network.
"""

from __future__ import annotations

import enum
import tomllib
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.errors import RulesError
from edge.protocol import Kind


class Severity(enum.StrEnum):
    """The CAP 1.2 severity vocabulary, lower case in the database, capitalised in CAP."""

    MINOR = "minor"
    MODERATE = "moderate"
    SEVERE = "severe"
    EXTREME = "extreme"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    severity: Severity = Severity.MODERATE
    for_s: float = Field(0.0, ge=0, description="the condition must hold this long before the alert fires")
    resolve_after_s: float = Field(0.0, ge=0, description="clear this long before the alert resolves")
    expire_after_s: float = Field(3600.0, gt=0, description="no data to judge by for this long: expired")
    public: bool = Field(False, description="published as CAP 1.2 (floods, jams), not just to staff")
    description: str = ""


class Threshold(_Rule):
    """The observed value beyond a level (a number, or each sensor's own ``alarm_level``)."""

    kind: Literal["threshold"]
    metric: Kind
    level: float | Literal["alarm_level"]
    below: bool = False
    hysteresis: float = Field(0.0, ge=0, description="clears only this far back on the safe side")


class RateOfRise(_Rule):
    kind: Literal["rate_of_rise"]
    metric: Kind
    rise: float = Field(gt=0, description="units of the metric")
    window_s: float = Field(600.0, gt=0)


class ForecastExceedance(_Rule):
    """``P(value > alarm level at or before now + within_s) >= probability`` in the newest forecast."""

    kind: Literal["forecast_exceedance"]
    metric: Kind = Kind.WATER_LEVEL
    probability: float = Field(0.5, gt=0, le=1)
    clear_probability: float | None = Field(None, ge=0, lt=1, description="hysteresis; default probability - 0.2")
    within_s: float = Field(3 * 3600.0, gt=0)
    max_forecast_age_s: float = Field(900.0, gt=0, description="an older forecast is no evidence")

    def clear_below(self) -> float:
        return max(0.0, self.probability - 0.2) if self.clear_probability is None else self.clear_probability


class FloodTier(_Rule):
    """The newest street-flood outlook puts the street under ``tier`` (a warning also counts as a watch):
    raised with the tier, cleared when that tier's probability falls below ``clear_probability``.
    Published as CAP with the tier's urgency and certainty (a watch Expected/Possible, a warning
    Immediate/Likely)."""

    kind: Literal["flood_tier"]
    tier: Literal["watch", "warning"]
    clear_probability: float | None = Field(None, ge=0, lt=1, description="default: the forecast's own (0.02 / 0.3)")
    max_outlook_age_s: float = Field(900.0, gt=0, description="an older outlook is no evidence")


class Congestion(_Rule):
    """Speed below ``below_kmh`` on a segment: observed now, or in the forecast within ``within_s``."""

    kind: Literal["congestion"]
    source: Literal["observed", "forecast"] = "observed"
    below_kmh: float = Field(gt=0)
    hysteresis_kmh: float = Field(5.0, ge=0)
    within_s: float = Field(3600.0, gt=0)
    max_forecast_age_s: float = Field(900.0, gt=0)


class Stale(_Rule):
    """No reading for ``cadences`` x the sensor's own cadence (at least ``min_gap_s``), connected or not."""

    kind: Literal["stale"]
    cadences: float = Field(5.0, gt=1)
    min_gap_s: float = Field(300.0, ge=0)


class Flatline(_Rule):
    """The last ``count`` readings within ``tolerance`` of each other (QARTOD flat line)."""

    kind: Literal["flatline"]
    count: int = Field(10, ge=3)
    count_at_rest: int = Field(90, ge=3, description="readings at zero before a resting sensor counts as stuck")
    tolerance: dict[Kind, float] = Field(
        default_factory=lambda: {Kind.WATER_LEVEL: 0.001, Kind.TRAFFIC_COUNT: 0.0, Kind.TRAFFIC_SPEED: 0.0}
    )


class Spike(_Rule):
    """QARTOD spike test on the last three readings; the middle one is flagged SUSPECT or FAIL."""

    kind: Literal["spike"]
    suspect: dict[Kind, float] = Field(
        default_factory=lambda: {Kind.WATER_LEVEL: 0.5, Kind.TRAFFIC_COUNT: 150.0, Kind.TRAFFIC_SPEED: 30.0}
    )
    fail: dict[Kind, float] = Field(
        default_factory=lambda: {Kind.WATER_LEVEL: 1.5, Kind.TRAFFIC_COUNT: 400.0, Kind.TRAFFIC_SPEED: 60.0}
    )
    window_s: float = Field(3600.0, gt=0, description="the alarm stays up while a spike lies in this window")


class RateOfChange(_Rule):
    """QARTOD rate of change on the change of the step: a reading whose step departs from the trend by
    more than ``sigmas`` of the sensor's usual jitter is flagged SUSPECT; the noise alarm needs
    ``min_episodes`` separate flagged episodes within ``window_s`` (one is a spike, not noise)."""

    kind: Literal["rate_of_change"]
    sigmas: float = Field(5.0, gt=0)
    min_episodes: int = Field(2, ge=1)
    window_s: float = Field(1800.0, gt=0)


class Drift(_Rule):
    """The sensor's readings left the 95 % band its own forecast gave ``lead_s`` earlier and stayed out
    for ``for_s``, alone: a slow drift leaves the band and never comes back; a storm pushes many
    sensors of a kind off their forecasts at once (``shared_fraction``), which is not a sensor fault."""

    kind: Literal["drift"]
    lead_s: float = Field(3600.0, ge=300)
    for_s: float = Field(7200.0, ge=0)
    shared_fraction: float = Field(
        0.2, gt=0, le=1, description="this share of a kind off together: the world, not a sensor"
    )


class Offline(_Rule):
    """The device's Last Will (or clean goodbye) said offline, ``grace_s`` ago or more."""

    kind: Literal["offline"]
    grace_s: float = Field(120.0, ge=0)


class Backlog(_Rule):
    """The edge queue grew over the last heartbeats and holds at least ``min_depth`` readings."""

    kind: Literal["backlog"]
    min_depth: int = Field(100, ge=1)
    heartbeats: int = Field(3, ge=2)


class ClockRule(_Rule):
    """The device says its clock is unsynchronised, or its timestamps sit ``max_offset_s`` away from
    the fleet's (newest reading time minus arrival time, compared with the fleet median)."""

    kind: Literal["clock"]
    max_offset_s: float = Field(120.0, gt=0)
    recent_s: float = Field(600.0, gt=0, description="only devices heard from this recently are compared")


AnyRule = Annotated[
    Threshold | RateOfRise | ForecastExceedance | FloodTier | Congestion | Stale | Flatline | Spike
    | RateOfChange | Drift | Offline | Backlog | ClockRule,
    Field(discriminator="kind"),
]  # fmt: skip
RULE_TYPES: tuple[type[_Rule], ...] = get_args(get_args(AnyRule)[0])
# Every rule's ``kind`` tag, read off the union above so a new kind cannot be forgotten here.
RULE_KINDS = frozenset(get_args(rule.model_fields["kind"].annotation)[0] for rule in RULE_TYPES)


class Grouping(BaseModel):
    """Alertmanager's group wait / interval / repeat, per district (or ward) and contact tier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: Literal["district", "ward"] = "district"
    wait_s: float = Field(30.0, ge=0, description="gather this long after a group's first news")
    interval_s: float = Field(300.0, ge=0, description="at most one message per group this often")
    repeat_s: float = Field(4 * 3600.0, gt=0, description="remind of an unacknowledged alert this often")


class ContactTier(BaseModel):
    """Who hears of alerts: tier 1 at once, tier 2 when nobody acknowledged within ``escalate_after_s``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: int = Field(ge=1, le=2)
    targets: list[str] = Field(default_factory=list, description="apprise URLs (mailto://, tgram://, json://, ...)")
    mqtt: bool = Field(True, description="also publish on the MQTT alerts topic")
    escalate_after_s: float = Field(900.0, gt=0, description="tier 2 only")
    min_severity: Severity = Severity.MINOR


class CapSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sender: str = "urbanpulse@hcmc.example"
    sender_name: str = "UrbanPulse - Ho Chi Minh City operations centre"
    expires_s: float = Field(6 * 3600.0, gt=0)


class RuleBook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1)
    rules: list[AnyRule] = Field(default_factory=list)
    grouping: Grouping = Grouping()
    contacts: list[ContactTier] = Field(default_factory=lambda: [ContactTier(tier=1)])
    cap: CapSettings = CapSettings()
    flap_window_s: float = Field(900.0, ge=0, description="a resolved alert that returns this soon is reopened")

    @model_validator(mode="after")
    def _distinct(self) -> RuleBook:
        names = [r.name for r in self.rules]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(twice)}")
        tiers = [c.tier for c in self.contacts]
        if len(set(tiers)) != len(tiers):
            raise ValueError("each contact tier may appear once")
        return self

    def hindcast_lead_s(self) -> float | None:
        """How far back the drift rules look (the longest lead); None without drift rules."""
        leads = [r.lead_s for r in self.rules if isinstance(r, Drift)]
        return max(leads) if leads else None

    def heartbeats_needed(self) -> int:
        """How many of each device's newest heartbeats the backlog rules look at (at least one)."""
        return max([r.heartbeats for r in self.rules if isinstance(r, Backlog)], default=1)

    def tier(self, number: int) -> ContactTier | None:
        return next((c for c in self.contacts if c.tier == number), None)


def parse_rules(text: str, source: str = "rules") -> RuleBook:
    """A validated rule book from TOML text; raises ``RulesError`` naming the file, rule and field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RulesError(f"{source}: not valid TOML: {error}") from error
    try:
        return RuleBook.model_validate(data)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = list(item["loc"])
            if len(where) >= 2 and where[0] == "rules" and isinstance(where[1], int):
                rules = data.get("rules", [])
                name = rules[where[1]].get("name", f"#{where[1] + 1}") if where[1] < len(rules) else where[1]
                where = [f"rule {name}", *[str(w) for w in where[2:] if w not in RULE_KINDS]]
            problems.append(f"{'.'.join(str(w) for w in where) or 'file'}: {item['msg']}")
        raise RulesError(f"{source}: " + "; ".join(problems)) from error


def load_rules(path: Path) -> RuleBook:
    try:
        text = path.read_text()
    except OSError as error:
        raise RulesError(f"{path}: cannot read the rules file: {error.strerror}") from error
    return parse_rules(text, str(path))
