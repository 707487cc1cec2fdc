"""``python -m api``: the ``urbanpulse`` command line (the HTTP API will be served from here too)."""

from api.cli.app import main

main()
