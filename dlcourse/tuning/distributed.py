"""Distributed tuning on one machine: a keras-tuner chief oracle plus N worker tuners.

    python -m dlcourse.tuning.distributed --workers 2 --tuner random [search flags]

keras-tuner's protocol: every process runs the *same* search script; ``KERASTUNER_TUNER_ID``
(``chief`` or ``tunerK``), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` tell it its
role (:func:`dlcourse.launch.role`). The chief serves the oracle over gRPC; each worker asks it
for trials, trains, and reports back; all share one project folder. :func:`launch` starts the
chief on a loopback port the OS picks (the chief reports it), then the workers, through
:class:`dlcourse.launch.Processes`: output prefixed ``[chief]``/``[tuner0]``, and every process
stopped and reaped on Ctrl-C, on a failure and on timeout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from dlcourse.launch import (
    LOOPBACK,
    ORACLE_PORT_FILE_ENV,
    TUNING_WORKERS_ENV,
    Processes,
    guarded,
    report_codes,
    tuner_env,
)
from dlcourse.tuning.__main__ import parser as search_parser
from dlcourse.utils import check_positive


def launch(
    command: Sequence[str],
    workers: int = 2,
    *,
    port: int | None = None,
    timeout: float = 3600.0,
    env: Mapping[str, str] | None = None,
    echo: bool = True,
) -> dict[str, int]:
    """Run ``command`` as chief + ``workers`` workers on 127.0.0.1 and wait for all of them.

    Returns each process's exit code (``{"chief": 0, "tuner0": 0, ...}``). If one fails,
    the time runs out or the launcher is interrupted, the others are stopped and reaped.
    """
    check_positive("workers", workers)
    check_positive("timeout", timeout)
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory() as tmp, Processes(echo=echo) as procs:
        # Without a port the chief binds port 0 and reports the port the OS chose: no race
        # with other programs between picking a free port and listening on it.
        port_file = Path(tmp) / "port.json"
        chief_env = {
            **(env or {}),
            **tuner_env("chief", port or 0, LOOPBACK),
            ORACLE_PORT_FILE_ENV: str(port_file),
            TUNING_WORKERS_ENV: str(workers),
        }
        procs.start("chief", command, chief_env)
        port = port or _wait_for_port(port_file, procs.procs["chief"], deadline)
        for i in range(workers if port else 0):
            procs.start(f"tuner{i}", command, {**(env or {}), **tuner_env(f"tuner{i}", port)})
        try:
            return procs.wait(max(deadline - time.monotonic(), 0.1))
        except TimeoutError:
            print(f"distributed tuning: timed out after {timeout:.0f} s", file=sys.stderr)
            return procs.codes()


def _wait_for_port(port_file: Path, chief, deadline: float) -> int | None:
    """The port the chief listens on, once it wrote it (None if it died or time ran out)."""
    while chief.poll() is None and time.monotonic() < deadline:
        if port_file.exists():
            return int(json.loads(port_file.read_text())["port"])
        time.sleep(0.05)
    return None


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
    search_args = search_parser().parse_args(rest)
    if search_args.overwrite:  # the chief alone must not wipe what workers already use
        project = os.path.join(search_args.directory, search_args.project_name or search_args.tuner)
        shutil.rmtree(project, ignore_errors=True)
        rest = [a for a in rest if a != "--overwrite"]
    command = [sys.executable, "-m", "dlcourse.tuning", *rest]
    status, codes = guarded(
        lambda: launch(command, args.workers, port=args.port, timeout=args.timeout),
        interrupted="every process stopped; run again to resume",
    )
    return status or report_codes(codes)


if __name__ == "__main__":
    from dlcourse.errors import run_main

    sys.exit(run_main(main))
