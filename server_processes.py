"""`partnerdesk serve --workers N`: N server processes answering on one port.

app.py migrates the database and seeds the demo first, once, in this (the parent) process.
`serve_in_processes` then binds the listening socket and starts N workers, each a fresh
interpreter ("spawn": no event loop, database pool or Redis connection is inherited) running
the GracefulServer of a single-process `serve` on the inherited socket. The parent serves
nothing; it supervises.

Why one socket bound by the parent rather than SO_REUSEPORT (a socket per worker): a second
`serve` started by mistake on the same port fails with "address already in use" instead of
quietly taking a share of the connections, and a new connection goes to whichever worker
accepts first, an idle one more likely than a busy one (SO_REUSEPORT hashes each connection to
a socket, busy or not). wrk's 16 keep-alive connections split 8/8 or 9/7.

Why not uvicorn's own supervisor (`uvicorn.run(..., workers=N)`, supervisors.Multiprocess):
its workers run a plain uvicorn.Server (not GracefulServer: a worker ends "killed by
SIGTERM"), the application must be an import string rebuilt from the environment in each
worker, the parent exits 0 when a worker could not start, and workers outlive a parent that
was killed. This supervisor keeps uvicorn's policy otherwise:

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
        listener = _listen(settings.host, settings.port)
    except OSError as error:
        log.error("cannot listen on %s:%s: %s", settings.host, settings.port, error)
        return STARTUP_FAILURE
    metrics_dir = tempfile.mkdtemp(prefix="partnerdesk-metrics-")
    # Read by prometheus_client when each worker imports it (telemetry/metrics.py).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        return Supervisor(settings, listener).run()
    finally:
        listener.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket every worker accepts from; listening already, so connections made
    while the workers start wait in the backlog instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host.strip("[]"), port))
        listener.listen(BACKLOG)
    except OSError:
        listener.close()
        raise
    return listener


class Worker:
    """One server process, and the parent's end of the pipe it reports its start on."""

    def __init__(self, settings: Settings, listener: socket.socket, number: int) -> None:
        self.channel, child_end = SPAWN.Pipe()
        self.process = SPAWN.Process(
            target=serve_one, args=(settings, listener, child_end), name=f"partnerdesk-{number}"
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
    def __init__(self, settings: Settings, listener: socket.socket) -> None:
        self.settings = settings
        self.listener = listener
        self.workers: list[Worker] = []
        self.signals: list[int] = []

    def run(self) -> int:
        handled = (signal.SIGTERM, signal.SIGINT)
        previous = {signum: signal.signal(signum, self._on_signal) for signum in handled}
        try:
            self.workers = [
                Worker(self.settings, self.listener, number)
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
                if worker.process.is_alive():
                    continue
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
                self.workers[index] = Worker(self.settings, self.listener, index + 1)
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


def serve_one(settings: Settings, listener: socket.socket, parent: Connection) -> None:
    """A worker process: serve on `listener` as a single `partnerdesk serve` does, until
    SIGTERM, SIGINT or the end of the parent."""
    from telemetry import tracing
    from telemetry.logs import configure_logging

    configure_logging(settings.log_format)
    tracing.configure_from_environment()
    server = WorkerServer(server_config(settings, create_app(settings)), parent)
    threading.Thread(target=_end_with_parent, args=(parent,), daemon=True).start()
    server.run(sockets=[listener])


def _end_with_parent(parent: Connection) -> None:
    """Block until the parent's end of the pipe closes (the parent is gone); then end this
    worker as SIGTERM does."""
    with contextlib.suppress(EOFError, OSError):
        while True:
            parent.recv()
    os.kill(os.getpid(), signal.SIGTERM)
