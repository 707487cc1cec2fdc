"""``urbanpulse user ...``: the people who may log in to the API, and their roles."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api.cli.options import ConfigOption, server_settings
from api.roles import Role

user_app = typer.Typer(help="People: who may log in to the API and the dashboard, with which role.",
                       no_args_is_help=True)  # fmt: skip
CLI_ACTOR = "cli"


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set, and whether it was generated here (then it is printed once)."""
    from api.secrets import MIN_PASSWORD, new_secret

    if not from_stdin:
        return new_secret()[:20], True
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < MIN_PASSWORD:
        typer.echo(f"urbanpulse user: a password needs at least {MIN_PASSWORD} characters", err=True)
        raise typer.Exit(2)
    return password, False


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Login name: lowercase letters, digits, '.', '_', '-'.")],
    role: Annotated[Role, typer.Option("--role", help="viewer reads; operator handles alerts; admin manages.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    config: ConfigOption = None,
) -> None:
    """Add a person (argon2id hash stored); without --password-stdin a password is generated and shown once."""
    import psycopg
    from pydantic import ValidationError

    from api.queries.people import add_user
    from api.schemas.people import UserIn

    password, generated = _password(password_stdin)
    try:
        UserIn(username=name, role=role, password=password)
    except ValidationError as error:
        typer.echo(f"urbanpulse user add: {error.errors()[0]['loc'][0]}: {error.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from error
    settings = server_settings(config)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        made = add_user(conn, name, role, password, CLI_ACTOR)
    if made is None:
        typer.echo(f"urbanpulse user add: {name} exists", err=True)
        raise typer.Exit(1)
    typer.echo(f"user {name} added as {role.value}" + (f"; password: {password}" if generated else ""))


@user_app.command("list")
def list_users(config: ConfigOption = None) -> None:
    """Everyone who may log in, with role and whether disabled."""
    import psycopg

    from api.queries.people import list_users as users

    settings = server_settings(config)
    with psycopg.connect(settings.database_url) as conn:
        for user in users(conn):
            typer.echo(f"{user.username:<24} {user.role.value:<9} {'disabled' if user.disabled else ''}")
