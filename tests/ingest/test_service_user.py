from __future__ import annotations

import pwd
import shutil
import tempfile
from pathlib import Path

from devstack.service_user import usable_dir


def test_a_folder_the_service_account_cannot_reach_gets_a_stable_stand_in() -> None:
    base = Path(tempfile.mkdtemp(prefix="urbanpulse-reach-"))  # under /tmp, which everyone can enter
    try:
        base.chmod(0o755)
        private = base / "home"
        private.mkdir()
        private.chmod(0o700)  # like /root
        account = pwd.getpwuid(0)  # only "not None" matters: we act for another account
        fallback = base / "var-tmp"
        first = usable_dir(private / ".urbanpulse" / "postgres", account, fallback_root=fallback)
        again = usable_dir(private / ".urbanpulse" / "postgres", account, fallback_root=fallback)
        assert first == again and first.is_relative_to(fallback) and first.name == "postgres"
        reachable = base / "open" / "x"
        assert usable_dir(reachable, account, fallback_root=fallback) == reachable.resolve()
        assert usable_dir(private / "y", None, fallback_root=fallback) == (private / "y").resolve()
    finally:
        shutil.rmtree(base, ignore_errors=True)
