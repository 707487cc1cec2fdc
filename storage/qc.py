"""The quality flags stored with every reading (``readings.qc``), QARTOD's codes.

Ingest sets them (gross range), the alert engine raises them (spike, rate of change, flat
line); every reader interprets them. Codes follow the QARTOD manuals.
"""

from __future__ import annotations

import enum


class QcFlag(enum.IntEnum):
    PASS = 1
    NOT_EVALUATED = 2
    SUSPECT = 3
    FAIL = 4
    MISSING = 9
