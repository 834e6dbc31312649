"""Broker outages for fault tests, without touching the shared Redis server.

`RedisOutage` is a TCP proxy on a loopback port in front of the real Redis. The worker, the
beat process and the web server under test are pointed at the proxy, so a test can cut the
connection (Redis down: connections reset, new ones refused), make it hang (Redis accepts but
never answers), or simulate a restart that loses every queued message (cut, FLUSHDB on the
test's own database number, restore), while other users of the same Redis see nothing.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class RedisOutage:
    """A loopback TCP proxy to Redis that can be cut, hung and restored."""

    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self.redis_url = redis_url
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.port = _free_port()
        self.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{self.port}"))
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._listener: socket.socket | None = None
        self._acceptor = threading.Thread()
        self._hanging = False
        self._stopping = threading.Event()

    # --- the faults ----------------------------------------------------------------------
    def restore(self) -> None:
        """Accept and forward connections again (Redis is back)."""
        with self._lock:
            self._hanging = False
            if self._listener is not None:
                return
            listener = socket.create_server(("127.0.0.1", self.port))
            listener.settimeout(0.2)
            self._listener = listener
            self._acceptor = threading.Thread(
                target=self._accept_loop, args=(listener,), daemon=True
            )
            self._acceptor.start()

    def cut(self) -> None:
        """Redis is down: every open connection is reset and new ones are refused."""
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            _reset(listener)  # wakes the blocked accept(), which then releases the port
            self._acceptor.join(timeout=5)
        for pair in pairs:
            for sock in pair:
                if sock is not None:
                    _reset(sock)

    def hang(self) -> None:
        """Redis hangs: connections are accepted, but nothing is ever answered."""
        self.cut()
        self.restore()
        with self._lock:
            self._hanging = True

    def close(self) -> None:
        self._stopping.set()
        self.cut()

    # --- the proxy -----------------------------------------------------------------------
    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # cut() closed the listener
            self._serve(client)

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            hanging = self._hanging
        if hanging:
            with self._lock:
                self._pairs.append((client, None))
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=2)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._pairs.append((client, upstream))
        threading.Thread(target=_pump, args=(client, upstream), daemon=True).start()


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    selector = selectors.DefaultSelector()
    with contextlib.suppress(ValueError, OSError):
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
    try:
        while a.fileno() >= 0 and b.fileno() >= 0:  # cut() closes them from another thread
            for key, _ in selector.select(timeout=1):
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)
    except (OSError, ValueError):
        return
    finally:
        selector.close()
        _reset(a)
        _reset(b)


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
