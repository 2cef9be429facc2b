"""Multi-worker training on one machine: N processes on 127.0.0.1, one ``TF_CONFIG`` each.

    python -m dlcourse.training.distributed --workers 2        # make train-distributed WORKERS=2

The launcher picks free ports, writes each worker's ``TF_CONFIG``, starts the workers (each in
its own process group), waits for them with a time limit and reaps every one of them, also
when one fails, on Ctrl-C or on SIGTERM. Each worker builds ``MultiWorkerMirroredStrategy``,
trains the Unit II MLP on ``digits28`` through :func:`dlcourse.training.fit` (the distributed
loop) and writes ``result_worker<i>.json`` and ``weights_worker<i>.npz`` into ``--out-dir``.

Fault tolerance: the chief keeps a checkpoint per epoch in ``<out-dir>/backup``. Kill any
worker (``kill -9``), start the same command again, and training resumes from the last
completed epoch. ``--pause-after-epoch`` slows epochs down so you have time to try it.

Worker logs go to ``<out-dir>/logs/worker<i>.log`` (the chief's progress bar to the console).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

import keras

from dlcourse.utils import atomic_path, check_choice, check_positive, write_json

DEFAULT_OUT = "runs/train_distributed"


@dataclass(frozen=True)
class Job:
    """What every worker trains (the same on all of them)."""

    epochs: int = 5  # passes over the 1,257 digits28 training images
    batch_size: int = 64  # GLOBAL batch: each of N workers computes batch_size / N of it
    learning_rate: float = 0.05  # SGD with momentum 0.9
    hidden: tuple[int, ...] = (128,)  # the MLP's hidden layers
    seed: int = 42
    limit: int = 0  # use only the first `limit` training images (0: all); for quick runs
    pause_after_epoch: float = 0.0  # seconds to sleep after each epoch (fault-tolerance demos)
    loop: str = "auto"  # fit's loop: "custom" runs the distributed loop even on one worker
    out_dir: str = DEFAULT_OUT

    def __post_init__(self):
        check_positive("epochs", self.epochs)
        check_positive("batch_size", self.batch_size)
        check_positive("learning_rate", self.learning_rate)
        check_positive("limit", self.limit, strict=False)
        check_positive("pause_after_epoch", self.pause_after_epoch, strict=False)
        check_choice("loop", self.loop, ("auto", "keras", "custom"))

    def to_args(self) -> list[str]:
        return [
            "--epochs",
            str(self.epochs),
            "--batch-size",
            str(self.batch_size),
            "--learning-rate",
            str(self.learning_rate),
            "--hidden",
            *map(str, self.hidden),
            "--seed",
            str(self.seed),
            "--limit",
            str(self.limit),
            "--pause-after-epoch",
            str(self.pause_after_epoch),
            "--loop",
            self.loop,
            "--out-dir",
            self.out_dir,
        ]


# --------------------------------------------------------------------------- one worker


def load_digits28(limit: int = 0):
    """digits28 scaled to [0, 1]: ((x_train, y_train), (x_val, y_val))."""
    from dlcourse import data

    splits = data.load("digits28")
    train, val = splits["train"], splits["val"]
    n = limit or len(train.x)
    return (train.x[:n] / 255.0, train.y[:n]), (val.x / 255.0, val.y)


def build_model(job: Job):
    """The Unit II MLP (dlcourse.models ``mlp``), compiled with SGD + momentum."""
    from dlcourse.models import create_model

    model = create_model("mlp", hidden=job.hidden, input_shape=(28, 28, 1), classes=10)
    model.compile(
        optimizer=keras.optimizers.SGD(job.learning_rate, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train_worker(
    job: Job, strategy: str = "multi-worker", loop: str | None = None
) -> dict[str, Any]:
    """Train ``job`` in this process and write its result files; returns the result.

    Under ``multi-worker`` this process is one worker of the cluster in ``TF_CONFIG``; with
    ``default`` it is the single-process reference run the tests compare the cluster with.
    """
    from dlcourse.training import strategy as strat

    dist = strat.get_strategy(strategy)  # first: before TensorFlow starts its runtime
    import numpy as np

    from dlcourse.labkit import TrainConfig
    from dlcourse.training.trainer import fit

    keras.utils.set_random_seed(job.seed)
    (x, y), (xv, yv) = load_digits28(job.limit)
    index, workers = strat.task_index(dist), strat.worker_count(dist)
    cfg = TrainConfig(strategy=strategy, precision="float32", jit_compile="off", seed=job.seed)
    counter = _EpochCounter(job.pause_after_epoch)
    out = Path(job.out_dir)
    start = time.perf_counter()
    model, history = fit(
        lambda: build_model(job),
        (x.astype("float32"), y),
        validation=(xv.astype("float32"), yv),
        epochs=job.epochs,
        cfg=cfg,
        folder=out,
        callbacks=[counter],
        batch_size=job.batch_size,
        verbose="auto" if index == 0 else 0,
        loop=loop or job.loop,
    )
    train_s = time.perf_counter() - start
    steps = int(model.optimizer.iterations.numpy())
    epochs_here = counter.epochs
    per_epoch = _steps_per_epoch(len(x), job.batch_size)
    result = {
        "worker": index,
        "workers": workers,
        "replicas": dist.num_replicas_in_sync,
        "strategy": strategy,
        "job": asdict(job),
        "history": history,
        "initial_epoch": len(history.get("loss", [])) - epochs_here,
        "iterations": steps,
        "steps_per_epoch": per_epoch,
        "train_s": round(train_s, 3),
        "steps_per_s": _steps_per_s(history["time_s"][-epochs_here:], per_epoch, train_s),
    }
    with atomic_path(out / f"weights_worker{index}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, *[w.numpy() for w in model.weights])
    write_json(out / f"result_worker{index}.json", result)
    return result


def _steps_per_s(times: list[float], per_epoch: int, train_s: float) -> float:
    """Steady-state global steps/s: epochs 2.. (epoch 1 also traces the graph); else overall."""
    if len(times) >= 2:
        return round((len(times) - 1) * per_epoch / max(times[-1] - times[0], 1e-9), 2)
    return round(len(times) * per_epoch / train_s, 2)


def _steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


class _EpochCounter(keras.callbacks.Callback):
    """Counts the epochs trained in this process; optionally sleeps after each one."""

    def __init__(self, pause: float = 0.0):
        super().__init__()
        self.pause, self.epochs = pause, 0

    def on_epoch_end(self, epoch, logs=None):
        self.epochs += 1
        if self.pause:
            time.sleep(self.pause)


# --------------------------------------------------------------------------- the launcher


class Cluster:
    """N worker processes on ``host``; a context manager that always reaps them.

    Each worker runs in its own session (process group), so Ctrl-C in the terminal reaches
    only the launcher, which then stops every worker: SIGTERM, then SIGKILL after ``grace``.
    """

    def __init__(
        self,
        workers: int,
        job: Job,
        *,
        host: str = "127.0.0.1",
        quiet: bool = False,
        grace: float = 5.0,
    ):
        from dlcourse.training.strategy import free_ports

        check_positive("workers", workers)
        self.workers, self.job, self.host, self.quiet, self.grace = workers, job, host, quiet, grace
        self.ports = free_ports(workers, host)
        self.procs: list[subprocess.Popen] = []
        self.logs = Path(job.out_dir) / "logs"

    def start(self) -> Cluster:
        from dlcourse.training.strategy import make_tf_config

        self.logs.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "dlcourse.training.distributed",
            "--worker",
            *self.job.to_args(),
        ]
        for i in range(self.workers):
            env = dict(os.environ, TF_CONFIG=make_tf_config(self.ports, i, self.host))
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            log = open(self.logs / f"worker{i}.log", "w")  # noqa: SIM115 (closed in _reap)
            to_console = i == 0 and not self.quiet
            proc = subprocess.Popen(
                cmd,
                env=env,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=None if to_console else log,
                stderr=None if to_console else log,
            )
            proc.log = log
            self.procs.append(proc)
        return self

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to worker ``index``'s process group (e.g. to test fault tolerance)."""
        _signal_group(self.procs[index], sig)

    def wait(self, timeout: float) -> list[int]:
        """Wait for all workers; if one fails, stop the others. Returns the exit codes.

        Raises:
            TimeoutError: the workers ran past ``timeout`` seconds (they are all stopped).
        """
        deadline = time.monotonic() + timeout
        while True:
            codes = [p.poll() for p in self.procs]
            if all(c is not None for c in codes):
                return codes
            if any(c not in (None, 0) for c in codes):
                self.stop()  # a dead peer leaves the others blocked in a collective
                return [p.returncode for p in self.procs]
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"workers still running after {timeout:.0f} s; stopped them")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM every live worker group, SIGKILL after the grace period, reap them all."""
        live = [p for p in self.procs if p.poll() is None]
        for p in live:
            _signal_group(p, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for p in live:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(p, signal.SIGKILL)
                p.wait()
        for p in self.procs:
            _signal_group(p, signal.SIGKILL)  # anything a worker itself started
            p.log.close()

    def log_tail(self, index: int, chars: int = 2000) -> str:
        path = self.logs / f"worker{index}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the worker leads its own session: pgid == pid
    except (ProcessLookupError, PermissionError):
        pass


def launch(
    workers: int = 2, job: Job | None = None, *, timeout: float = 600.0, quiet: bool = False
) -> list[dict]:
    """Train ``job`` on ``workers`` local processes; return each worker's result.

    Raises:
        RuntimeError: a worker failed (its log's tail is in the message).
        TimeoutError: the cluster ran past ``timeout`` seconds.
    """
    job = job or Job()
    check_positive("timeout", timeout)
    with Cluster(workers, job, quiet=quiet) as cluster:
        codes = cluster.wait(timeout)
        if any(codes):
            bad = next(i for i, c in enumerate(codes) if c)
            raise RuntimeError(
                f"worker {bad} exited with code {codes[bad]} (all exit codes: {codes}); "
                f"log tail:\n{cluster.log_tail(bad)}"
            )
    out = Path(job.out_dir)
    return [json.loads((out / f"result_worker{i}.json").read_text()) for i in range(workers)]


def compare_workers(
    counts: Sequence[int] = (1, 2), job: Job | None = None, *, timeout: float = 300.0
) -> list[dict]:
    """Train the same job (same global batch) on 1, 2 ... workers; one row per cluster size.

    Every size runs the distributed loop (``loop="custom"``), so the rows differ only in the
    number of workers. ``steps_per_s`` is global steps per second of epochs 2.. (training and
    validation; TensorFlow start-up and graph tracing excluded); ``wall_s`` includes start-up. Each cluster writes into ``<out_dir>/workers<N>``.
    """
    job = job or Job()
    job = Job(**{**asdict(job), "hidden": tuple(job.hidden), "loop": "custom"})  # one loop for all
    rows = []
    for n in counts:
        sub = Job(
            **{**asdict(job), "hidden": tuple(job.hidden), "out_dir": f"{job.out_dir}/workers{n}"}
        )
        start = time.perf_counter()
        results = launch(n, sub, timeout=timeout, quiet=True)
        wall = time.perf_counter() - start
        weights = [Path(sub.out_dir) / f"weights_worker{i}.npz" for i in range(n)]
        chief = results[0]
        rows.append(
            {
                "workers": n,
                "steps_per_s": chief["steps_per_s"],
                "train_s": chief["train_s"],
                "wall_s": round(wall, 2),
                "val_accuracy": chief["history"]["val_accuracy"][-1],
                "val_accuracy_curve": chief["history"]["val_accuracy"],
                "iterations": chief["iterations"],
                "identical_weights": _same_weights(weights),
            }
        )
    return rows


def _same_weights(paths: list[Path]) -> bool:
    import numpy as np

    arrays = []
    for path in paths:
        with np.load(path) as npz:
            arrays.append([npz[k] for k in npz.files])
    return all(
        all(np.array_equal(a, b) for a, b in zip(arrays[0], other, strict=True))
        for other in arrays[1:]
    )


def summary(results: list[dict]) -> str:
    chief = results[0]
    h = chief["history"]
    return (
        f"{chief['workers']} worker(s), {chief['replicas']} replica(s): {len(h['loss'])} epochs, "
        f"{chief['iterations']} steps (resumed at epoch {chief['initial_epoch']}), "
        f"val_accuracy {h['val_accuracy'][-1]:.3f}, {chief['steps_per_s']:.1f} steps/s"
    )


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    d = Job()
    p = argparse.ArgumentParser(
        prog="python -m dlcourse.training.distributed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="epochs (default: %(default)s)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=d.batch_size,
        help="global batch size (default: %(default)s)",
    )
    p.add_argument(
        "--learning-rate",
        type=float,
        default=d.learning_rate,
        help="SGD learning rate (default: %(default)s)",
    )
    p.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=list(d.hidden),
        help="hidden layer sizes (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=d.seed, help="seed (default: %(default)s)")
    p.add_argument(
        "--limit",
        type=int,
        default=d.limit,
        help="train on the first N images only; 0 = all (default: %(default)s)",
    )
    p.add_argument(
        "--pause-after-epoch",
        type=float,
        default=0.0,
        help="sleep after each epoch, to try killing a worker (default: 0)",
    )
    p.add_argument(
        "--out-dir", default=DEFAULT_OUT, help="results, logs, backup (default: %(default)s)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="stop every worker after this many seconds (default: %(default)s)",
    )
    p.add_argument(
        "--loop",
        default="auto",
        choices=("auto", "keras", "custom"),
        help="fit's loop; custom = the distributed loop even on 1 worker (default: auto)",
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        job = Job(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            hidden=tuple(args.hidden),
            seed=args.seed,
            limit=args.limit,
            pause_after_epoch=args.pause_after_epoch,
            loop=args.loop,
            out_dir=args.out_dir,
        )
        if args.worker:
            train_worker(job)
            return 0
        check_positive("workers", args.workers)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # Ctrl-C and SIGTERM (make, a scheduler) unwind the same way, so the workers are stopped;
    # SIGINT is set explicitly because a shell starts background jobs with it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        results = launch(args.workers, job, timeout=args.timeout)
    except (RuntimeError, TimeoutError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: every worker stopped; run again to resume", file=sys.stderr)
        return 130
    print(summary(results))
    print(f"results and weights in {args.out_dir}/")
    return 0


if __name__ == "__main__":
    from dlcourse.errors import run_main

    sys.exit(run_main(main))
