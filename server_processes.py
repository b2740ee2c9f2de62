"""`partnerdesk serve --workers N`: N server processes answering on one port.

app.py migrates the database and seeds the demo first, once, in this (the parent) process.
`serve_in_processes` then starts N workers, each a fresh interpreter ("spawn": no event loop,
database pool or Redis connection is inherited) running the GracefulServer of a
single-process `serve`. The parent serves nothing; it supervises.

One port, a listening socket per worker (SO_REUSEPORT), rather than one socket the parent
binds and every worker accepts from (what uvicorn and gunicorn do by default): Linux hands
each new connection to one of the sockets by a hash of its addresses, so a burst of
connections is spread over the workers. From a shared socket, the worker that wakes first
takes every connection waiting (asyncio and libuv accept until none is left): wrk's 16
keep-alive connections, opened at once, all went to one of two workers in 2 of 8 tries on a
busy 2-core machine, and a benchmark run measured one worker (16/0); with SO_REUSEPORT the
worst of 8 was 11/5. Since any process of the same user may join a SO_REUSEPORT port, the
parent first binds the port plainly (taken: it fails as a single `serve` does, "address
already in use") and then keeps a SO_REUSEPORT socket bound, not listening, until it exits,
which keeps every other program's plain bind out. Where the kernel does not balance
SO_REUSEPORT (not Linux) the workers share one socket the parent listens on.

Why not uvicorn's own supervisor (`uvicorn.run(..., workers=N)`, supervisors.Multiprocess):
its workers run a plain uvicorn.Server (not GracefulServer: a worker ends "killed by
SIGTERM"), share one socket, need the application as an import string rebuilt from the
environment in each worker, and outlive a parent that was killed; its parent exits 0 when a
worker could not start. This supervisor keeps uvicorn's policy otherwise:

- SIGTERM or SIGINT: every worker gets SIGTERM and ends as a single `serve` does (in-flight
  requests finish, websockets close with 1012, lifespan shutdown); the parent exits 0 when
  all did, 1 when one had to be killed after PARTNERDESK_SHUTDOWN_GRACE_SECONDS (plus
  STOP_MARGIN_SECONDS). A second SIGINT is passed on as SIGINT: uvicorn's forced exit.
- A worker that dies after it started serving is replaced, and the death logged with its
  exit status; the others serve meanwhile. A worker that ends before it serves stops the
  whole server with status 3, uvicorn's "could not start": a set-up that fails once (the
  database refuses, the app cannot load) would fail again on every restart.
- A worker whose parent is gone (killed with SIGKILL) shuts down as on SIGTERM rather than
  serve on unsupervised: it watches its end of a pipe to the parent.
- /metrics: the workers write their metrics to one prometheus_client multiprocess directory
  (a fresh temporary directory, removed at exit), so a scrape, whichever worker answers it,
  reports the sum over the workers (telemetry/metrics.py).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection, wait
from types import FrameType

import uvicorn

from app import GracefulServer, create_app, server_config
from config import Settings

log = logging.getLogger("partnerdesk.serve")
SPAWN = multiprocessing.get_context("spawn")
# Linux spreads a port's connections over the sockets listening on it with SO_REUSEPORT.
REUSE_PORT = sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT")
STARTUP_FAILURE = 3  # uvicorn's exit status for a server that could not start
# After the workers' own grace period, how long the parent waits before it kills one.
STOP_MARGIN_SECONDS = 10.0
POLL_SECONDS = 0.2
BACKLOG = 2048  # uvicorn's default
STARTED = "started"


def serve_in_processes(settings: Settings) -> int:
    """Serve with `settings.workers` processes on one port until SIGTERM or SIGINT; the exit
    status (0: every worker ended cleanly)."""
    try:
        port = _claim_port(settings.host, settings.port)
    except OSError as error:
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, error)
        return STARTUP_FAILURE
    metrics_dir = tempfile.mkdtemp(prefix="partnerdesk-metrics-")
    # Read by prometheus_client when each worker imports it (telemetry/metrics.py).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        return Supervisor(settings, shared=None if REUSE_PORT else port).run()
    finally:
        port.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _bound_socket(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    bound = socket.socket(family, socket.SOCK_STREAM)
    try:
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        bound.bind((host.strip("[]"), port))
    except OSError:
        bound.close()
        raise
    return bound


def _claim_port(host: str, port: int) -> socket.socket:
    """The parent's hold on the port until it exits: with REUSE_PORT a SO_REUSEPORT socket,
    bound but not listening, after a plain bind showed the port free; otherwise the one
    socket every worker accepts from, listening already (connections made while the workers
    start wait in its backlog)."""
    if not REUSE_PORT:
        shared = _bound_socket(host, port, reuse_port=False)
        shared.listen(BACKLOG)
        return shared
    _bound_socket(host, port, reuse_port=False).close()  # in use: OSError, as `serve` says
    return _bound_socket(host, port, reuse_port=True)


def worker_socket(settings: Settings) -> socket.socket:
    """A worker's own listening socket on the port (uvicorn listens on it)."""
    return _bound_socket(settings.host, settings.port, reuse_port=True)


class Worker:
    """One server process, and the parent's end of the pipe it reports its start on."""

    def __init__(self, settings: Settings, shared: socket.socket | None, number: int) -> None:
        self.channel, child_end = SPAWN.Pipe()
        self.process = SPAWN.Process(
            target=serve_one, args=(settings, shared, child_end), name=f"partnerdesk-{number}"
        )
        self.process.start()
        child_end.close()  # the worker has its own copy
        self.started = False

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def check_started(self) -> bool:
        """Whether the worker has said it serves (reads what it sent since the last check)."""
        with contextlib.suppress(EOFError, OSError):
            while not self.started and self.channel.poll():
                self.started = self.channel.recv() == STARTED
        return self.started

    def ended_cleanly(self) -> bool:
        """Status 0, or ended by the SIGTERM the parent sent before the worker could catch it."""
        code = self.process.exitcode
        return code == 0 or (not self.started and code == -signal.SIGTERM)

    def forget(self) -> None:
        """After its end: close the pipe and drop its live gauges from the shared metrics."""
        from prometheus_client import multiprocess

        self.channel.close()
        multiprocess.mark_process_dead(self.pid)


class Supervisor:
    def __init__(self, settings: Settings, shared: socket.socket | None) -> None:
        self.settings = settings
        self.shared = shared  # the socket every worker accepts from, or None: one each
        self.workers: list[Worker] = []
        self.signals: list[int] = []

    def run(self) -> int:
        handled = (signal.SIGTERM, signal.SIGINT)
        previous = {signum: signal.signal(signum, self._on_signal) for signum in handled}
        try:
            self.workers = [
                Worker(self.settings, self.shared, number)
                for number in range(1, self.settings.workers + 1)
            ]
            status = self._supervise()
            stopped_cleanly = self._stop()
            return status or (0 if stopped_cleanly else 1)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)

    def _wait(self) -> None:
        """Until a worker ends or reports, or POLL_SECONDS pass (signals are checked after)."""
        ready = [worker.process.sentinel for worker in self.workers]
        wait([*ready, *(worker.channel for worker in self.workers)], timeout=POLL_SECONDS)

    def _supervise(self) -> int:
        """Keep the workers running until a signal (0) or a worker that cannot start (3)."""
        announced = False
        while not self.signals:
            self._wait()
            for index, worker in enumerate(self.workers):
                worker.check_started()
                if worker.process.is_alive() or self.signals:
                    continue  # (a signal to the whole group, e.g. Ctrl+C, also ends workers)
                worker.process.join()
                if not worker.started:
                    log.error(
                        "server process %s ended before it could serve (exit status %s): "
                        "stopping every server process",
                        worker.pid,
                        worker.process.exitcode,
                    )
                    return STARTUP_FAILURE
                log.warning(
                    "server process %s ended (exit status %s); starting another",
                    worker.pid,
                    worker.process.exitcode,
                )
                worker.forget()
                self.workers[index] = Worker(self.settings, self.shared, index + 1)
                announced = False  # again once the replacement serves
            if not announced and all(worker.started for worker in self.workers):
                announced = True
                log.info(
                    "%d server processes serve on port %s: %s",
                    len(self.workers),
                    self.settings.port,
                    ", ".join(str(worker.pid) for worker in self.workers),
                )
        return 0

    def _stop(self) -> bool:
        """SIGTERM to every worker, wait for them (killing those past the grace period);
        whether every one ended cleanly."""
        for worker in self.workers:
            if worker.process.is_alive():
                os.kill(worker.pid, signal.SIGTERM)
        passed_on = len(self.signals)
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS
        while any(w.process.is_alive() for w in self.workers) and time.monotonic() < deadline:
            self._wait()
            for signum in self.signals[passed_on:]:  # e.g. a second Ctrl+C: forced exit
                for worker in self.workers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(worker.pid, signum)
            passed_on = len(self.signals)
        for worker in self.workers:
            if worker.process.is_alive():
                log.error("server process %s did not stop in time: killed", worker.pid)
                worker.process.kill()
            worker.process.join()
            worker.check_started()
            worker.forget()
        return all(worker.ended_cleanly() for worker in self.workers)


class WorkerServer(GracefulServer):
    """GracefulServer that tells the parent when it serves."""

    def __init__(self, config: uvicorn.Config, parent: Connection) -> None:
        super().__init__(config)
        self.parent = parent

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:  # (uvicorn exits the process when the start fails)
            self.parent.send(STARTED)


def serve_one(settings: Settings, shared: socket.socket | None, parent: Connection) -> None:
    """A worker process: serve on the port (its own socket, or the `shared` one) as a single
    `partnerdesk serve` does, until SIGTERM, SIGINT or the end of the parent."""
    from telemetry import tracing
    from telemetry.logs import configure_logging

    configure_logging(settings.log_format)
    tracing.configure_from_environment()
    server = WorkerServer(server_config(settings, create_app(settings)), parent)
    threading.Thread(target=_end_with_parent, args=(parent,), daemon=True).start()
    server.run(sockets=[shared or worker_socket(settings)])


def _end_with_parent(parent: Connection) -> None:
    """Block until the parent's end of the pipe closes (the parent is gone); then end this
    worker as SIGTERM does."""
    with contextlib.suppress(EOFError, OSError):
        while True:
            parent.recv()
    os.kill(os.getpid(), signal.SIGTERM)
