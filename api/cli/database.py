"""``urbanpulse db``: the database schema."""

from __future__ import annotations

import typer

from api.cli.options import ConfigOption, server_settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("migrate")
def db_migrate(config: ConfigOption = None) -> None:
    """Apply pending schema migrations (safe to run from several processes at once)."""
    from storage.migrate import migrate

    settings = server_settings(config)
    applied = migrate(settings.database_url)
    typer.echo(f"applied {len(applied)} migration(s)" + "".join(f"\n  {m.version:04d} {m.name}" for m in applied))
