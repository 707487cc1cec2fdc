"""Ingest failures of its own; database failures are ``storage.errors`` (transient or permanent).

``BrokerAuthError``: our own credentials are wrong; retrying would only hammer the broker, so
the service stops loudly.
"""

from __future__ import annotations


class IngestError(Exception):
    pass


class BrokerAuthError(IngestError):
    pass
