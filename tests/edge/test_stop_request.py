"""A stop requested from a signal handler that runs inside its own thread's wait on the stop event."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from edge.stop_request import StopRequest
from runtime.shutdown import Shutdown


def _requested_while_holding_the_events_lock(event: threading.Event, request: Callable[[], object]) -> bool:
    """Call ``request`` in a thread that holds ``event``'s lock, as a signal handler does when it runs in
    the main thread at the start or end of ``event.wait``; True when the call returned."""
    returned = threading.Event()

    def handler_inside_wait() -> None:
        with event._cond:  # type: ignore[attr-defined]  # what Event.wait holds as it enters and leaves its wait
            request()
        returned.set()

    threading.Thread(target=handler_inside_wait, daemon=True).start()  # on the old code it hangs for ever
    return returned.wait(timeout=60)


def test_a_stop_requested_inside_the_events_own_wait_returns_and_sets_the_event() -> None:
    stop = threading.Event()
    request = StopRequest(stop)
    assert _requested_while_holding_the_events_lock(stop, request), "the handler waited for its own lock"
    assert stop.wait(timeout=60)
    request.close()


def test_the_services_shutdown_is_requested_the_same_way() -> None:
    shutdown = Shutdown()
    try:
        assert _requested_while_holding_the_events_lock(
            shutdown.requested, lambda: shutdown.handle(signal.SIGTERM, None)
        ), "the handler waited for its own lock"
        assert shutdown.requested.wait(timeout=60)
    finally:
        shutdown.close()


def test_a_second_signal_interrupts_even_before_the_first_has_set_the_event() -> None:
    shutdown = Shutdown()
    try:
        shutdown.handle(signal.SIGTERM, None)
        try:
            shutdown.handle(signal.SIGINT, None)
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("a second signal must interrupt the waiting")
    finally:
        shutdown.close()


def test_close_sets_what_was_requested_then_ends_the_relay() -> None:
    request = StopRequest(threading.Event())
    request()
    request.close()
    assert request.event.is_set()
    assert not request._relay.is_alive()  # it closes the pipe's read end as it ends; close() the write end
