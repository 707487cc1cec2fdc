"""Running private servers as an unprivileged account when we are root.

PostgreSQL refuses to run as root, and a broker should not; on a root shell (CI, a fresh
VM) the servers run as the distribution's service account and their folders are handed to it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
from pathlib import Path

log = logging.getLogger(__name__)


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


def _reachable_by_others(path: Path) -> bool:
    return all(os.stat(parent).st_mode & 0o001 for parent in path.parents if parent.exists())


def usable_dir(path: Path, account: pwd.struct_passwd | None, fallback_root: Path = Path("/var/tmp")) -> Path:
    """``path``, or a stable stand-in under ``fallback_root`` when ``account`` could not reach it.

    A root shell in /root (mode 700) is the common case: the servers' own accounts cannot enter
    it. The stand-in is derived from the requested path, so a demo finds its data again.
    """
    path = path.resolve()
    if account is None or _reachable_by_others(path):
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    stand_in = fallback_root / f"urbanpulse-{digest}" / path.name
    log.warning("%s is not reachable by the %r account; keeping its data in %s", path, account.pw_name, stand_in)
    stand_in.parent.mkdir(parents=True, exist_ok=True)
    stand_in.parent.chmod(0o755)
    return stand_in


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
