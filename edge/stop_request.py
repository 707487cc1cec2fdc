"""A stop request made from a signal handler, without a lock in the handler.

Python runs a signal handler in the main thread between two bytecodes, and that can be in the
middle of the main thread's own ``Event.wait``, which holds the event's lock as it starts and ends
its wait. ``Event.set`` in the handler then waits for a lock that its own thread holds: for ever.
(Seen: an edge agent that never stopped on SIGTERM, its stack in ``Condition.__exit__`` under
``Event.set``.) So the handler only writes a byte to a pipe, which takes no lock, and a small
thread that reads the pipe sets the event.
"""

from __future__ import annotations

import os
import threading


class StopRequest:
    """Sets ``event`` when called from a signal handler (or anywhere); ``close()`` ends its thread."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self._read, self._write = os.pipe()
        self._relay = threading.Thread(target=self._set_on_each_byte, name="stop-request", daemon=True)
        self._relay.start()

    def __call__(self) -> None:
        """Request the stop: safe inside a signal handler, returns at once."""
        os.write(self._write, b"\0")

    def close(self) -> None:
        """Stop relaying: whatever was requested before is set first."""
        os.close(self._write)  # the relay reads what is left, then the end of the pipe
        self._relay.join()

    def _set_on_each_byte(self) -> None:
        try:
            while os.read(self._read, 1):
                self.event.set()
        finally:
            os.close(self._read)
