"""The alerts package's errors.

``AlertsError``
 ├── ``RulesError``: the rules file is missing, not TOML, or breaks the schema (raised at start-up
 │   and on reload; a running engine keeps its last good rules when a reload fails)
 └── ``NotFound``: an alert or silence named by a person does not exist
"""

from __future__ import annotations


class AlertsError(Exception):
    pass


class RulesError(AlertsError):
    pass


class NotFound(AlertsError):
    pass
