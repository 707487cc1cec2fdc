from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge.protocol import Reading
from edge.store import ReadingStore
from tests.harness import REPO


def _readings(start: float, count: int, sensor: str = "water_level") -> list[Reading]:
    return [Reading(sensor, start + i, float(i), "m") for i in range(count)]


def test_readings_come_out_in_time_order_and_leave_only_when_removed(tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "q.db")
    store.append(_readings(200.0, 3))
    store.append(_readings(100.0, 3, "rainfall"))  # older readings stored later (a slow sensor)
    first = store.oldest(4)
    assert [q.reading.time for q in first] == [100.0, 101.0, 102.0, 200.0]
    assert [q.reading.time for q in store.oldest(2, skip=[first[0].id])] == [101.0, 102.0]
    store.remove([q.id for q in first[:3]])
    store.remove([first[0].id])  # a second acknowledgement of the same message is harmless
    assert store.stats().depth == 3 and store.stats().oldest_time == 200.0
    store.close()


def test_disk_budget_evicts_oldest_first_and_counts_it(tmp_path: Path) -> None:
    store = ReadingStore(tmp_path / "q.db", max_readings=5)
    assert store.append(_readings(0.0, 4)) == 0
    assert store.append(_readings(10.0, 3)) == 2
    assert [q.reading.time for q in store.oldest(10)] == [2.0, 3.0, 10.0, 11.0, 12.0]
    store.close()
    reopened = ReadingStore(tmp_path / "q.db", max_readings=5)
    assert reopened.stats().evicted_total == 2  # the count survives a restart
    assert reopened.stats().depth == 5
    reopened.close()


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        ReadingStore(tmp_path / "q.db", durability="fast")


def test_committed_readings_survive_kill_minus_nine(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    writer = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from edge.protocol import Reading\n"
        "from edge.store import ReadingStore\n"
        "store = ReadingStore(Path(sys.argv[1]))\n"
        "for batch in range(50):\n"
        "    store.append([Reading('rainfall', batch * 10 + i, 1.0, 'mm') for i in range(10)])\n"
        "print('stored', flush=True)\n"
        "os.kill(os.getpid(), 9)\n"  # no close(), no clean shutdown
    )
    result = subprocess.run([sys.executable, "-c", writer, str(path)], cwd=REPO, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == -signal.SIGKILL and "stored" in result.stdout
    store = ReadingStore(path)
    assert store.stats().depth == 500
    assert [q.reading.time for q in store.oldest(3)] == [0.0, 1.0, 2.0]
    store.close()
    assert os.path.exists(path)
