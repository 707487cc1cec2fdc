from __future__ import annotations

import subprocess
import sys

from tests.harness import REPO


def test_edge_modules_need_only_paho_and_the_standard_library() -> None:
    probe = (
        "import sys, edge.protocol, edge.link\n"
        "server = {'numpy', 'psycopg', 'pydantic', 'typer', 'prometheus_client', 'ingest'}\n"
        "loaded = server & {name.split('.')[0] for name in sys.modules}\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", probe], cwd=REPO, check=True, timeout=60)
