"""Distributed tuning on one machine: a keras-tuner chief oracle plus N worker tuners.

    python -m dlcourse.tuning.distributed --workers 2 --tuner random [search flags]

keras-tuner's protocol: every process runs the *same* search script; ``KERASTUNER_TUNER_ID``
(``chief`` or ``tunerK``), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` tell it its
role. The chief serves the oracle over gRPC; each worker asks it for trials, trains, and reports
back; all share one project folder. :func:`launch` starts the chief on a loopback port the OS
picks (the chief reports it), then the workers, waits, and reaps every process, also on Ctrl-C,
on a failure and on timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from dlcourse.utils import check_positive, write_json

LOOPBACK = "127.0.0.1"
PORT_FILE_ENV = "DLCOURSE_ORACLE_PORT_FILE"
WORKERS_ENV = "DLCOURSE_TUNING_WORKERS"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_chief() -> bool:
    return "KERASTUNER_ORACLE_IP" in os.environ and os.environ.get(
        "KERASTUNER_TUNER_ID", ""
    ).startswith("chief")


def is_worker() -> bool:
    return "KERASTUNER_ORACLE_IP" in os.environ and not is_chief()


def serve(oracle, poll_s: float = 0.2) -> None:
    """keras-tuner's chief loop (``oracle_chief.start_server``), polling every ``poll_s``
    instead of every 20 s, so the chief exits as soon as the last worker is done."""
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    class Servicer(OracleServicer):
        """Remembers which workers were told to stop."""

        def __init__(self, oracle):
            super().__init__(oracle)
            self.stopped: set[str] = set()

        def CreateTrial(self, request, context):  # the gRPC method's name
            response = super().CreateTrial(request, context)
            if response.trial.status == protos.get_proto().TrialStatus.STOPPED:
                self.stopped.add(request.tuner_id)
            return response

    # keras-tuner's own test (the oracle is idle) passes too early when a worker is slow to
    # start: it would find the chief gone and wait forever. The launcher says how many come.
    expected = int(os.environ.get(WORKERS_ENV, "0"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = Servicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"The tuning chief could not listen on {address} (port in use?)")
    server.start()
    if os.environ.get(PORT_FILE_ENV):  # port 0: tell the launcher which port the OS gave us
        write_json(os.environ[PORT_FILE_ENV], {"port": port})
    try:
        while not (
            servicer.stop_triggered and exit_chief(oracle) and len(servicer.stopped) >= expected
        ):
            time.sleep(poll_s)
    finally:
        server.stop(grace=1)


def search(tuner, *args, **kwargs) -> None:
    """``tuner.search`` in every role; the chief serves the oracle with :func:`serve`."""
    if is_chief():
        tuner.save()
        serve(tuner.oracle)
    else:
        tuner.search(*args, **kwargs)


def launch(
    command: Sequence[str],
    workers: int = 2,
    *,
    port: int | None = None,
    timeout: float = 3600.0,
    env: dict | None = None,
) -> dict[str, int]:
    """Run ``command`` as chief + ``workers`` workers on 127.0.0.1 and wait for all of them.

    Returns each process's exit code (``{"chief": 0, "tuner0": 0, ...}``). If one fails,
    the time runs out or the launcher is interrupted, the others are terminated (then killed)
    and waited for, so no process is left behind.
    """
    check_positive("workers", workers)
    check_positive("timeout", timeout)
    base = {**os.environ, **(env or {}), "KERASTUNER_ORACLE_IP": LOOPBACK}
    deadline = time.monotonic() + timeout
    procs: dict[str, subprocess.Popen] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Without a port the chief binds port 0 and reports the port the OS chose: no race
        # with other programs between picking a free port and listening on it.
        port_file = Path(tmp) / "port.json"
        chief_env = {
            **base,
            "KERASTUNER_TUNER_ID": "chief",
            "KERASTUNER_ORACLE_PORT": str(port or 0),
            PORT_FILE_ENV: str(port_file),
            WORKERS_ENV: str(workers),
        }
        procs["chief"] = subprocess.Popen(list(command), env=chief_env)
        try:
            port = port or _wait_for_port(port_file, procs["chief"], deadline)
            for i in range(workers if port else 0):
                procs[f"tuner{i}"] = subprocess.Popen(
                    list(command),
                    env={
                        **base,
                        "KERASTUNER_TUNER_ID": f"tuner{i}",
                        "KERASTUNER_ORACLE_PORT": str(port),
                    },
                )
        except BaseException:
            _reap(procs.values())
            raise
    try:
        while [p.poll() for p in procs.values()].count(None):  # poll every one, each time
            failed = [k for k, p in procs.items() if p.returncode not in (None, 0)]
            if failed:
                print(
                    f"distributed tuning: {', '.join(failed)} failed; stopping the rest",
                    file=sys.stderr,
                )
                break
            if time.monotonic() > deadline:
                print(f"distributed tuning: timed out after {timeout:.0f} s", file=sys.stderr)
                break
            time.sleep(0.1)
    finally:
        _reap(procs.values())
    return {k: p.returncode for k, p in procs.items()}


def _wait_for_port(port_file: Path, chief: subprocess.Popen, deadline: float) -> int | None:
    """The port the chief listens on, once it wrote it (None if it died or time ran out)."""
    while chief.poll() is None and time.monotonic() < deadline:
        if port_file.exists():
            return int(json.loads(port_file.read_text())["port"])
        time.sleep(0.05)
    return None


def _reap(procs, grace: float = 5.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(end - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m dlcourse.tuning.distributed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other flags are passed to python -m dlcourse.tuning (see its --help).",
    )
    p.add_argument("--workers", type=int, default=2, help="number of worker processes")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds before giving up")
    p.add_argument("--port", type=int, default=None, help="oracle port (default: a free one)")
    args, rest = p.parse_known_args(argv)
    from dlcourse.tuning.__main__ import parser as search_parser

    search_args = search_parser().parse_args(rest)
    if search_args.overwrite:  # the chief alone must not wipe what workers already use
        import shutil

        project = os.path.join(search_args.directory, search_args.project_name or search_args.tuner)
        shutil.rmtree(project, ignore_errors=True)
        rest = [a for a in rest if a != "--overwrite"]
    codes = launch(
        [sys.executable, "-m", "dlcourse.tuning", *rest],
        args.workers,
        port=args.port,
        timeout=args.timeout,
    )
    print("exit codes: " + ", ".join(f"{k}={v}" for k, v in codes.items()))
    return 0 if all(c == 0 for c in codes.values()) else 1


if __name__ == "__main__":
    from dlcourse.errors import run_main

    sys.exit(run_main(main))
