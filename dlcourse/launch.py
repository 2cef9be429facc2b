"""One process layer: start N local processes, stream their output, wait, reap.

Both local clusters use it: ``make train-distributed`` (``MultiWorkerMirroredStrategy``
workers, one ``TF_CONFIG`` each) and ``make tune-distributed`` (a keras-tuner chief and its
workers, one ``KERASTUNER_*`` environment each). It also answers, in one function
(:func:`role`), whether *this* process is the chief, a worker, or a process on its own, and
how many workers its cluster has (:func:`num_workers`, :func:`worker_count`): the data loader
and the training loop both stand on this module, neither on the other.

Every process starts in its own session (process group), so Ctrl-C in the terminal reaches only
the launcher, which then stops every group it started: SIGTERM, then SIGKILL after a grace
period, then reaps each process. The same happens when one process fails (a dead peer leaves
the others blocked in a collective) and when the time runs out. Each process's stdout and
stderr are merged, prefixed with its name (``[worker1] ...``) on the console and/or written to
``<log_dir>/<name>.log``.

    python -m dlcourse.launch --workers 2 -- python my_mwms_script.py   # N processes, TF_CONFIG
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Self, TypeVar

from dlcourse.utils import check_choice, check_positive

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
#: the ``TF_CONFIG`` task types that train (a ``chief`` is a worker that also writes outputs)
TASK_TYPES = ("worker", "chief")
#: what the tuning launcher tells its chief: where to report its port, how many workers come
ORACLE_PORT_FILE_ENV = "DLCOURSE_ORACLE_PORT_FILE"
TUNING_WORKERS_ENV = "DLCOURSE_TUNING_WORKERS"


# --------------------------------------------------------------------------- roles and env


def role(env: Mapping[str, str] | None = None, of: str = "any") -> str:
    """``"chief"``, ``"worker"`` or ``"single"``: this process's place in a local cluster.

    keras-tuner's variables (``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_TUNER_ID``) come first:
    the tuner called ``chief...`` serves the oracle, every other one is a worker. Otherwise
    ``TF_CONFIG``: a ``chief`` task, or worker 0 of a cluster without one, is the chief (it
    writes checkpoints and outputs); a cluster of one is ``"single"``. No variable: ``"single"``.
    ``of="keras_tuner"`` or ``of="tf_config"`` reads only that system's variables.
    """
    check_choice("of", of, ("any", "keras_tuner", "tf_config"))
    env = os.environ if env is None else env
    if of != "tf_config" and "KERASTUNER_ORACLE_IP" in env:
        return "chief" if env.get("KERASTUNER_TUNER_ID", "").startswith("chief") else "worker"
    text = env.get("TF_CONFIG", "").strip()
    if of == "keras_tuner" or not text:
        return "single"
    config = json.loads(text)
    cluster, task = config.get("cluster", {}), config.get("task", {})
    if num_workers(config) <= 1:
        return "single"
    if task.get("type") == "chief":
        return "chief"
    first = task.get("type") == "worker" and task.get("index") == 0
    return "chief" if first and "chief" not in cluster else "worker"


def free_ports(n: int, host: str = LOOPBACK) -> list[int]:
    """``n`` distinct ports that were free a moment ago (the OS picks them)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def tf_config(ports: Sequence[int], index: int, host: str = LOOPBACK) -> str:
    """The ``TF_CONFIG`` JSON of worker ``index`` in a cluster of workers on ``host:ports``."""
    config = {
        "cluster": {"worker": [f"{host}:{p}" for p in ports]},
        "task": {"type": "worker", "index": index},
    }
    return json.dumps(config)


def tuner_env(tuner_id: str, port: int, host: str = LOOPBACK) -> dict[str, str]:
    """keras-tuner's environment for the process ``tuner_id`` (``chief``, ``tuner0`` ...)."""
    return {
        "KERASTUNER_TUNER_ID": tuner_id,
        "KERASTUNER_ORACLE_IP": host,
        "KERASTUNER_ORACLE_PORT": str(port),
    }


def num_workers(config: Mapping[str, Any] | None) -> int:
    """Workers in a parsed ``TF_CONFIG`` (the chief counts; None, no cluster: 1)."""
    if config is None:
        return 1
    return sum(len(config.get("cluster", {}).get(kind, [])) for kind in TASK_TYPES)


def worker_count(strategy: Any) -> int:
    """How many worker processes take part in a ``tf.distribute`` strategy (1 unless
    multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return 1
    return max(1, num_workers({"cluster": resolver.cluster_spec().as_dict()}))


# --------------------------------------------------------------------------- the process group


class Processes:
    """Named child processes, each in its own session; a context manager that reaps them all.

    Args:
        log_dir: write each process's output to ``<log_dir>/<name>.log``.
        echo: names whose output is also printed, prefixed ``[name]``, to this stdout
            (``True``: all, ``False``: none).
        grace: seconds between SIGTERM and SIGKILL when stopping.
    """

    def __init__(
        self,
        *,
        log_dir: str | os.PathLike | None = None,
        echo: bool | Sequence[str] = True,
        grace: float = 5.0,
    ):
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.echo, self.grace = echo, grace
        self.procs: dict[str, subprocess.Popen] = {}
        self._pumps: list[threading.Thread] = []

    def start(self, name: str, cmd: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        """Start ``cmd`` as process ``name`` with ``os.environ`` updated by ``env``."""
        full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
        full_env["PYTHONUNBUFFERED"] = "1"  # output streams as it comes
        proc = subprocess.Popen(
            list(cmd),
            env=full_env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        log = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (the pump closes it)
        echo = self.echo is True or (not isinstance(self.echo, bool) and name in self.echo)
        pump = threading.Thread(target=_pump, args=(proc.stdout, name, log, echo), daemon=True)
        pump.start()
        self._pumps.append(pump)

    def codes(self) -> dict[str, int | None]:
        return {name: p.poll() for name, p in self.procs.items()}

    def wait(self, timeout: float) -> dict[str, int]:
        """Wait until every process exits; stop all of them when one fails. Exit codes by name.

        Raises:
            TimeoutError: still running after ``timeout`` seconds (every process is stopped).
        """
        deadline = time.monotonic() + timeout
        while True:
            codes = self.codes()  # poll every one, each time
            if all(c is not None for c in codes.values()):
                return codes
            if any(c not in (None, 0) for c in codes.values()):
                self.stop()
                return self.codes()
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"processes still running after {timeout:.0f} s; stopped them")
            time.sleep(0.1)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to process ``name``'s group (e.g. to test fault tolerance)."""
        _signal_group(self.procs[name], sig)

    def stop(self) -> None:
        """SIGTERM every live group, SIGKILL after the grace period, reap every process."""
        live = [p for p in self.procs.values() if p.poll() is None]
        for p in live:
            _signal_group(p, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for p in live:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(p, signal.SIGKILL)
                p.wait()
        for p in self.procs.values():
            _signal_group(p, signal.SIGKILL)  # anything a process itself started
        for pump in self._pumps:
            pump.join(timeout=2.0)

    def log_tail(self, name: str, chars: int = 2000) -> str:
        path = None if self.log_dir is None else self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the process leads its own session: pgid == pid
    except (ProcessLookupError, PermissionError):
        pass


_ECHO_LOCK = threading.Lock()  # one child's line is never split by another's


def _pump(stream: IO[bytes], name: str, log: IO[bytes] | None, echo: bool) -> None:
    """Copy a child's output to its log and, prefixed line by line, to our stdout.

    Only whole lines (ended by "\n", or "\r" where a progress bar redraws) reach stdout, each
    batch in one write under a lock, so the workers' lines never interleave mid-line.
    """
    prefix = f"[{name}] ".encode()
    out = sys.stdout.buffer if echo and hasattr(sys.stdout, "buffer") else None
    pending = b""
    try:
        for chunk in iter(lambda: stream.read1(4096), b""):
            if log is not None:
                log.write(chunk)
                log.flush()
            if out is not None:
                lines = (pending + chunk).splitlines(keepends=True)
                pending = b"" if lines[-1].endswith((b"\n", b"\r")) else lines.pop()
                _echo(out, prefix, lines)
        if out is not None and pending:
            _echo(out, prefix, [pending + b"\n"])
    except (OSError, ValueError):  # our stdout closed: nothing left to copy to
        pass
    finally:
        stream.close()
        if log is not None:
            log.close()


def _echo(out: IO[bytes], prefix: bytes, lines: list[bytes]) -> None:
    text = b"".join(prefix + line if line.strip(b"\r\n") else line for line in lines)
    if text:
        with _ECHO_LOCK:
            out.write(text)
            out.flush()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGTERM (make, a scheduler) into KeyboardInterrupt, like Ctrl-C, while inside.

    SIGINT is set explicitly too: a shell starts background jobs with it ignored.
    """
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in old:
        signal.signal(s, signal.default_int_handler)
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def guarded(run: Callable[[], T], interrupted: str = "every process stopped") -> tuple[int, T]:
    """``(0, run())`` for a launcher's ``main``, with Ctrl-C/SIGTERM and errors as exit codes.

    Bad input (``ValueError``) is 2, a failed or timed-out cluster (``RuntimeError``,
    ``TimeoutError``) is 1 and an interrupt 130, each with its one-line message on stderr.
    """
    try:
        with interruptible():
            return 0, run()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2, None
    except (RuntimeError, TimeoutError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1, None
    except KeyboardInterrupt:
        print(f"interrupted: {interrupted}", file=sys.stderr)
        return 130, None


def report_codes(codes: Mapping[str, int]) -> int:
    """Print the exit codes of a cluster's processes; 0 if all of them succeeded, else 1."""
    print("exit codes: " + ", ".join(f"{k}={v}" for k, v in codes.items()))
    return 0 if not any(codes.values()) else 1


def run_cluster(
    cmd: Sequence[str],
    workers: int,
    *,
    timeout: float = 600.0,
    log_dir: str | os.PathLike | None = None,
    echo: bool | Sequence[str] = True,
    host: str = LOOPBACK,
) -> dict[str, int]:
    """Run ``cmd`` as ``workers`` processes ``worker0`` ... with one ``TF_CONFIG`` each.

    Returns the exit codes by name; raises ``TimeoutError`` past ``timeout`` seconds. Every
    process is stopped and reaped on return, on a failure and on KeyboardInterrupt.
    """
    check_positive("workers", workers)
    check_positive("timeout", timeout)
    ports = free_ports(workers, host)
    with Processes(log_dir=log_dir, echo=echo) as procs:
        for i in range(workers):
            procs.start(f"worker{i}", cmd, {"TF_CONFIG": tf_config(ports, i, host)})
        return procs.wait(timeout)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m dlcourse.launch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--workers", type=int, default=2, help="processes (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds (default: %(default)s)")
    p.add_argument("--log-dir", default=None, help="also write <log-dir>/worker<i>.log")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- command and its arguments")
    args = p.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        p.error("no command given (put it after --)")
    status, codes = guarded(
        lambda: run_cluster(cmd, args.workers, timeout=args.timeout, log_dir=args.log_dir)
    )
    return status or report_codes(codes)


if __name__ == "__main__":
    sys.exit(main())
