"""One network thread for thousands of device links: paho clients driven by a selector (epoll).

paho's ``loop_start()`` gives every client a thread of its own. That is right for a street box
with one link, and wrong for a simulator with 3,000 devices in one process: thousands of threads
fight for the GIL, CONNECTs miss the broker's timeout and the fleet thrashes. Here one thread
waits on every client's socket at once and calls paho's external-loop API (``loop_read``,
``loop_write``, ``loop_misc``) - the pattern paho documents for integrating with an event loop.

Thread safety: paho calls the socket callbacks from whichever thread is working the client; on
another thread they only queue a request and wake the loop, which alone touches the selector.
Links the loop lost (broker restart) are reconnected every ``RECONNECT_S`` until detached, and
every ``TICK_S`` the loop calls its tickers (each link's resend of packs the server has not settled).
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

TICK_S = 0.5  # keepalive checks, stuck-write sweep, reconnects
RECONNECT_S = 2.0


class SharedLoop:
    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._pending: list[tuple[str, mqtt.Client, Any]] = []
        self._clients: set[mqtt.Client] = set()  # attached: reconnected when lost
        self._last_try: dict[mqtt.Client, float] = {}
        self._registered: set[Any] = set()  # sockets in the selector (touched by the loop thread only)
        self._tickers: list[Callable[[], object]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt-shared-loop", daemon=True)
        self._thread.start()

    # -- called from any thread -------------------------------------------------------------
    def connect(self, client: mqtt.Client, host: str, port: int, keepalive: int) -> None:
        """Attach ``client`` and connect it (the TCP connect happens here; CONNACK arrives on the loop)."""
        client.on_socket_open = self._on_open
        client.on_socket_close = self._on_close
        client.on_socket_register_write = self._on_want_write
        client.on_socket_unregister_write = self._on_done_writing
        with self._lock:
            self._clients.add(client)
            self._last_try[client] = time.monotonic()
        client.connect_async(host, port, keepalive=keepalive, clean_start=False)
        try:
            client.reconnect()
        except OSError as error:  # the loop retries
            log.debug("connect failed, will retry: %s", error)

    def add_ticker(self, tick: Callable[[], object]) -> None:
        """Call ``tick`` from the loop every ``TICK_S`` (it must be quick and thread-safe)."""
        with self._lock:
            if tick not in self._tickers:
                self._tickers.append(tick)

    def remove_ticker(self, tick: Callable[[], object]) -> None:
        with self._lock:
            if tick in self._tickers:
                self._tickers.remove(tick)

    def detach(self, client: mqtt.Client) -> None:
        """Stop reconnecting ``client`` (call before a deliberate disconnect)."""
        with self._lock:
            self._clients.discard(client)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the loop once the links' goodbyes are written (their sockets closed), or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(self._selector.get_map()) > 1 and time.monotonic() < deadline:
            self._stop.wait(0.02)  # polling the loop's own state; nothing to wake us
        self._stop.set()
        self._wake()
        self._thread.join(timeout=10)
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _request(self, action: str, client: mqtt.Client, sock: Any) -> None:
        with self._lock:
            self._pending.append((action, client, sock))
        if threading.current_thread() is self._thread:
            # Apply at once: paho calls on_socket_close just before closing, so the selector
            # forgets the descriptor before the kernel can hand its number to a new socket.
            self._apply()
        else:
            self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except BlockingIOError:  # already awake with bytes to read
            pass

    def _on_open(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self._request("open", client, sock)

    def _on_close(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self._request("close", client, sock)

    def _on_want_write(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self._request("write", client, sock)

    def _on_done_writing(self, client: mqtt.Client, _u: Any, sock: Any) -> None:
        self._request("read", client, sock)

    # -- the loop thread --------------------------------------------------------------------
    def _apply(self) -> None:
        """Bring the selector in line with the requests, judged by each client's state now.

        Requests from the publishing threads may arrive out of order with the loop's own (a
        write wish for a socket not yet registered, say); reading the client's current socket
        and ``want_write()`` makes the outcome right whatever the order.
        """
        with self._lock:
            pending, self._pending = self._pending, []
        for action, client, sock in pending:
            if action == "close":
                self._registered.discard(sock)
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
                continue
            if id(client.socket()) != id(sock):  # a request about a socket since replaced
                continue
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if client.want_write() else 0)
            try:
                if sock in self._registered:
                    self._selector.modify(sock, events, client)
                else:
                    self._selector.register(sock, events, client)
                    self._registered.add(sock)
            except (KeyError, ValueError, OSError):  # closed meanwhile; its close request follows
                continue

    def _run(self) -> None:
        next_tick = time.monotonic() + TICK_S
        while not self._stop.is_set():
            for key, mask in self._selector.select(timeout=max(0.0, next_tick - time.monotonic())):
                client = key.data
                if client is None:
                    self._drain_wake()
                    continue
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE:
                    client.loop_write()
            self._apply()
            if time.monotonic() >= next_tick:
                self._tick()
                next_tick = time.monotonic() + TICK_S

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            clients = list(self._clients)
            tickers = list(self._tickers)
        for tick in tickers:
            try:
                tick()
            except Exception:  # noqa: BLE001 - one link's failure must not stop the loop for all
                log.exception("a ticker of the shared loop failed")
        for client in clients:
            if client.socket() is None:
                if now - self._last_try.get(client, 0.0) >= RECONNECT_S:
                    self._last_try[client] = now
                    try:
                        client.reconnect()
                    except OSError as error:
                        log.debug("reconnect failed: %s", error)
                continue
            client.loop_misc()
            if client.want_write():  # a write request that raced with the end of the last write
                client.loop_write()
