"""The ``urbanpulse`` command line: one entry point for every service and admin task.

Each command group lives in its own module of ``api.cli``; this one only assembles them.
"""

from __future__ import annotations

import typer

from api.cli.alerts import alerts_app
from api.cli.database import db_app
from api.cli.demo import demo_app
from api.cli.devices import device_app
from api.cli.forecast import forecast_app
from api.cli.services import services_app
from api.cli.users import user_app

app = typer.Typer(help="UrbanPulse: proactive flood and traffic operations for a megacity.", no_args_is_help=True)
app.add_typer(demo_app)
app.add_typer(services_app)
app.add_typer(db_app, name="db")
app.add_typer(device_app, name="device")
app.add_typer(forecast_app, name="forecast")
app.add_typer(alerts_app, name="alerts")
app.add_typer(user_app, name="user")


def main() -> None:
    app(prog_name="urbanpulse")


if __name__ == "__main__":
    main()
