"""Running private servers as an unprivileged account when we are root.

PostgreSQL refuses to run as root, and a broker should not; on a root shell (CI, a fresh
VM) the servers run as the distribution's service account and their folders are handed to it.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path


def service_account(preferred: str) -> pwd.struct_passwd | None:
    """The account to run a server as: None when we are not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in (preferred, "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(f"running as root and neither {preferred!r} nor 'nobody' exists to run the server as")


def hand_over(path: Path, account: pwd.struct_passwd | None) -> None:
    """Give ``path`` (recursively) to ``account`` and check it can reach it."""
    if account is None:
        return
    for parent in path.resolve().parents:
        if not os.stat(parent).st_mode & 0o001:
            raise PermissionError(
                f"{parent} is not searchable by other users, so the {account.pw_name!r} account cannot reach "
                f"{path}; choose a data directory outside it (e.g. under /tmp or /var/lib)"
            )
    for root, dirs, files in os.walk(path):
        os.chown(root, account.pw_uid, account.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), account.pw_uid, account.pw_gid)
