"""``urbanpulse alerts ...``: the alert engine, and what operators do with alerts from a terminal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from api.cli.options import ConfigOption, server_settings

alerts_app = typer.Typer(help="Alerts: the engine, listing, acknowledging, silencing, checking rules.",
                         no_args_is_help=True)  # fmt: skip
LIST_LIMIT = 100
RulesOption = Annotated[
    Path | None, typer.Option("--rules", help="Rules TOML (else alerts.rules_file, else defaults).")
]


def _fail(command: str, error: Exception, code: int = 2) -> typer.Exit:
    typer.echo(f"urbanpulse alerts {command}: {error}", err=True)
    return typer.Exit(code)


@alerts_app.command("run")
def run(
    config: ConfigOption = None,
    rules: RulesOption = None,
    once: Annotated[bool, typer.Option("--once", help="Evaluate once, deliver the outbox, exit.")] = False,
) -> None:
    """Evaluate every rule on the newest readings and forecasts, and notify (runs until SIGINT or SIGTERM)."""
    import psycopg

    from alerts.__main__ import serve
    from alerts.delivery import close_channels, deliver_due, open_channels
    from alerts.engine import RuleSource, run_cycle
    from alerts.errors import RulesError
    from alerts.store import store_rules
    from runtime.backoff import Backoff

    settings = server_settings(config)
    if not once:
        raise typer.Exit(serve(settings, rules))
    try:
        source = RuleSource(rules or settings.alerts.rules_file)
    except RulesError as error:
        raise _fail("run", error) from error
    found = open_channels(settings.alerts.mqtt_url)
    try:
        with psycopg.connect(settings.database_url) as conn:
            with conn.transaction():
                store_rules(conn, source.book)
            result = run_cycle(conn, source.book, time.time(), settings.alerts, "mqtt" in found)
        delivered = deliver_due(settings.database_url, found,
                                Backoff(settings.alerts.retry_initial_s, settings.alerts.retry_max_s))  # fmt: skip
    except psycopg.Error as error:
        raise _fail("run", error, 1) from error
    finally:
        close_channels(found)
    typer.echo(f"{result.rules} rules: {result.transitions} changes, {result.open_alerts} open, "
               f"{result.messages} messages ({delivered.sent} sent, {delivered.failed} failed), "
               f"{result.cap_documents} CAP, {result.qc_flags} QC flags in {result.seconds:.2f} s")  # fmt: skip


@alerts_app.command("check")
def check(rules: Annotated[Path, typer.Argument(help="The rules TOML to validate.")]) -> None:
    """Validate a rules file without running anything (exit 2 and the reasons when it is wrong)."""
    from alerts.errors import RulesError
    from alerts.rules import load_rules

    try:
        book = load_rules(rules)
    except RulesError as error:
        raise _fail("check", error) from error
    typer.echo(f"{rules}: version {book.version}, {len(book.rules)} rules, OK")


@alerts_app.command("list")
def list_alerts(
    config: ConfigOption = None,
    all_states: Annotated[bool, typer.Option("--all", help="Closed alerts too (last 100).")] = False,
) -> None:
    """Alerts (open ones unless --all), most severe first, then newest: id, state, severity, rule, where, since."""
    import psycopg

    from api.queries.alerts import AlertFilter
    from api.queries.alerts import list_alerts as page
    from api.schemas.alerts import AlertState

    settings = server_settings(config)
    chosen = AlertFilter(states=tuple(AlertState)) if all_states else AlertFilter()
    with psycopg.connect(settings.database_url) as conn:
        alerts, _ = page(conn, chosen, LIST_LIMIT)
    for a in alerts:
        where = f"{a.district or '-':<14} {a.device_id or '-':<24}"
        since = f"{a.last_change:%Y-%m-%d %H:%M}"
        typer.echo(f"#{a.alert_id:<6} {a.state:<12} {a.severity:<8} {a.rule:<22} {where} {since} {a.acked_by or ''}")
    if not alerts:
        typer.echo("no alerts")


@alerts_app.command("ack")
def ack(
    alert_id: Annotated[int, typer.Argument(help="The alert's number (from 'alerts list').")],
    by: Annotated[str, typer.Option("--by", help="Who takes it.")],
    note: Annotated[str | None, typer.Option("--note", help="What is being done.")] = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge a firing alert: stops its escalation and reminders; it still resolves by itself."""
    from datetime import UTC, datetime

    import psycopg

    from alerts.errors import AlertsError
    from api.queries.alerts import acknowledge

    settings = server_settings(config)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        try:
            acknowledge(conn, alert_id, by, note, datetime.now(UTC))
        except AlertsError as error:
            raise _fail("ack", error) from error
    typer.echo(f"alert #{alert_id} acknowledged by {by}")


@alerts_app.command("silence")
def silence(
    match: Annotated[
        list[str],
        typer.Option("--match", help="LABEL=PATTERN (rule, kind, district, ward, device_id, severity); repeatable."),
    ],  # fmt: skip
    hours: Annotated[float, typer.Option("--hours", min=0.01, max=24 * 30, help="How long from now.")],
    by: Annotated[str, typer.Option("--by", help="Who silences.")],
    comment: Annotated[str, typer.Option("--comment", help="Why (maintenance, known outage ...).")],
    config: ConfigOption = None,
) -> None:
    """Silence matching alerts for a while (they still fire and are recorded; nobody is notified)."""
    from datetime import UTC, datetime, timedelta

    import psycopg

    from alerts.routing import LABELS
    from api.queries.silences import create_silence

    matchers = {}
    for item in match:
        label, sep, pattern = item.partition("=")
        if not sep or label not in LABELS or not pattern:
            raise _fail("silence", ValueError(f"bad matcher {item!r}: LABEL=PATTERN, LABEL one of {', '.join(LABELS)}"))
        matchers[label] = pattern
    settings = server_settings(config)
    now = datetime.now(UTC)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        made = create_silence(conn, matchers, now, now + timedelta(hours=hours), by, comment, now)
    typer.echo(f"silence #{made.silence_id} for {hours:g} h: {matchers}")
