"""A running Mosquitto's password file, updated in place and reloaded (SIGHUP) without dropping clients.

Used by ``urbanpulse device add --broker-dir`` for any broker whose password file and pid file
sit in one folder (the demo's private broker, or a production broker laid out the same way).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path

from ingest import broker_auth


def update_running_broker(base_dir: Path, password_hashes: Mapping[str, str]) -> bool:
    """Merge accounts into a private broker's password file and make it reload (True if it was running)."""
    passwd = base_dir / "passwd"
    entries = broker_auth.parse_password_file(passwd.read_text()) if passwd.exists() else {}
    entries.update(password_hashes)
    temporary = passwd.with_suffix(".tmp")
    temporary.write_text(broker_auth.render_password_file(entries))
    temporary.chmod(0o600)
    if passwd.exists():
        stat = passwd.stat()
        os.chown(temporary, stat.st_uid, stat.st_gid)
    temporary.replace(passwd)
    pid_file = base_dir / "broker.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text()), signal.SIGHUP)
    except ProcessLookupError:
        return False
    return True
