"""The alerts package's errors.

``AlertsError``
 ├── ``RulesError``: the rules file is missing, not TOML, or breaks the schema (raised at start-up
 │   and on reload; a running engine keeps its last good rules when a reload fails)
 ├── ``NotFound``: an alert, silence (or, through the API, a user, sensor, forecast) named by a
 │   person does not exist; ``code`` names the case for the API (``not_found``, ``no_forecast``)
 └── ``StateConflict``: a person's action does not fit the alert's state (acknowledging a closed
     alert); ``code`` names the case for the API (``not_open``, ``not_firing``)
"""

from __future__ import annotations


class AlertsError(Exception):
    pass


class RulesError(AlertsError):
    pass


class NotFound(AlertsError):
    def __init__(self, message: str, code: str = "not_found") -> None:
        super().__init__(message)
        self.code = code


class StateConflict(AlertsError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
