"""A private `redis-server` for fault tests, stopped, killed, frozen and restarted for real.

Each test gets its own server on a free loopback port with nothing on disk (`--save ""
--appendonly no`, as the local Redis of this machine; the docker-compose Redis keeps an
append-only file), so a restart loses every queued message: the worst case for the queue.
The shared Redis server that other tests and users rely on is never stopped or frozen.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import redis

from bench.stack import Service, free_port

REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer(Service):
    """redis-server on 127.0.0.1:<port>; start() after stop() or kill() is a restart.

    stop() is SIGTERM (a clean shutdown), kill() is SIGKILL (a crash); freeze() is SIGSTOP:
    the kernel still accepts connections into the listen backlog, but nothing is answered
    until thaw() (SIGCONT).
    """

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.starts = 0
        self.start()

    def start(self) -> None:
        """Start an empty server on this port and wait until it answers PING."""
        if self.starts:
            self.stop()  # only closes the last log if the process is already gone
        self.starts += 1
        command = [
            *(REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port)),
            *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            *("--daemonize", "no", "--logfile", ""),
        ]
        super().__init__(command, dict(os.environ), self.workdir / f"redis-{self.starts}.log")
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        self.wait_until(self._pong, "redis-server not ready", timeout, interval=0.01)

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def freeze(self) -> None:
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self, grace: float = 30) -> None:
        self.thaw()  # a frozen server would not act on SIGTERM until continued
        super().stop(grace)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def _signal(self, signum: signal.Signals) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)
