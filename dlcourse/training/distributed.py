"""Multi-worker training on one machine: N processes on 127.0.0.1, one ``TF_CONFIG`` each.

    python -m dlcourse.training.distributed --workers 2        # make train-distributed WORKERS=2

:func:`launch` starts the workers through :mod:`dlcourse.launch` (free ports, one
``TF_CONFIG`` each, output prefixed ``[worker0]``, every process stopped and reaped on a
failure, on Ctrl-C and on timeout). Each worker (:func:`train_worker`) builds
``MultiWorkerMirroredStrategy``, reads ``digits28`` through the loader
(:func:`dlcourse.data.make_dataset`), trains the Unit II MLP through
:func:`dlcourse.training.fit` (the distributed loop) and writes ``result_worker<i>.json`` and
``weights_worker<i>.npz`` into ``--out-dir``.

Fault tolerance: the chief keeps a checkpoint per epoch in ``<out-dir>/backup``. Kill any
worker (``kill -9``), start the same command again, and training resumes from the last
completed epoch. ``--pause-after-epoch`` slows epochs down so you have time to try it.

Worker logs go to ``<out-dir>/logs/worker<i>.log`` (the chief's output also to the console).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dlcourse.launch import Processes, free_ports, guarded, tf_config
from dlcourse.utils import (
    arg,
    atomic_path,
    check_positive,
    config_parser,
    parse_config,
    to_argv,
    validate_config,
    write_json,
)

DEFAULT_OUT = "runs/train_distributed"


@dataclass(frozen=True)
class Job:
    """What every worker trains (the same on all of them)."""

    epochs: int = arg(5, "passes over the 1,257 digits28 training images", check="positive")
    batch_size: int = arg(
        64, "GLOBAL batch: each of N workers computes batch_size / N of it", check="positive"
    )
    learning_rate: float = arg(0.05, "SGD learning rate (momentum 0.9)", check="positive")
    hidden: tuple = arg((128,), "hidden layer sizes of the MLP", check="positive")
    seed: int = arg(42, "seed of the weights and of the data order", check="non_negative")
    limit: int = arg(
        0, "train on the first `limit` images only, in whole batches; 0 = all", check="non_negative"
    )
    pause_after_epoch: float = arg(
        0.0, "seconds to sleep after each epoch (to try a kill)", check="non_negative"
    )
    loop: str = arg(
        "auto", "fit's loop; custom = the distributed loop even on one worker",
        choices=("auto", "keras", "custom"),
    )  # fmt: skip
    sharding: str = arg(
        "file",
        "file: each worker reads only its own shard files (the loader's AutoShardPolicy.FILE); "
        "data: every worker reads all files and keeps its slice of each global batch, so the "
        "workers see exactly the batches of one process",
        choices=("file", "data"),
    )
    out_dir: str = arg(DEFAULT_OUT, "results, logs and the backup")

    def __post_init__(self):
        validate_config(self)

    def replace(self, **changes: Any) -> Job:
        return Job(**{**asdict(self), "hidden": tuple(self.hidden), **changes})


# --------------------------------------------------------------------------- one worker


def datasets(job: Job):
    """digits28 from the loader: (train, validation) batched with the global batch size.

    ``job.sharding="file"`` keeps the loader's policy: with at least as many shard files as
    workers each worker reads only its own files (``AutoShardPolicy.FILE``). ``"data"`` makes
    every worker read the same seeded order and keep its slice of every global batch
    (``AutoShardPolicy.DATA``): the global batches are then exactly one process's, which is
    how the tests compare N workers with one process weight for weight.
    """
    from dlcourse.data import make_dataset

    kw = {"batch_size": job.batch_size, "device": None}
    train = make_dataset("digits28", "train", seed=job.seed, shard_policy=job.sharding, **kw)
    if job.limit:
        train = train.take(math.ceil(job.limit / job.batch_size))
    return train, make_dataset("digits28", "val", shuffle=False, **kw)


def build_model(job: Job):
    """The Unit II MLP (:func:`dlcourse.models.mlp.mlp`), compiled with SGD + momentum."""
    import keras

    from dlcourse.models.mlp import compile_classifier, mlp

    model = mlp(hidden=job.hidden, input_shape=(28, 28, 1), classes=10)
    return compile_classifier(model, keras.optimizers.SGD(job.learning_rate, momentum=0.9))


def train_worker(
    job: Job, strategy: str = "multi-worker", loop: str | None = None
) -> dict[str, Any]:
    """Train ``job`` in this process and write its result files; returns the result.

    Under ``multi-worker`` this process is one worker of the cluster in ``TF_CONFIG``; with
    ``default`` it is the single-process reference run the tests compare the cluster with.
    """
    from dlcourse.training import strategy as strat

    dist = strat.get_strategy(strategy)  # first: before TensorFlow starts its runtime
    import keras
    import numpy as np

    from dlcourse.training.config import TrainConfig
    from dlcourse.training.trainer import fit

    keras.utils.set_random_seed(job.seed)
    train, val = datasets(job)
    index, workers = strat.task_index(dist), strat.worker_count(dist)
    cfg = TrainConfig(strategy=strategy, precision="float32", jit_compile="off", seed=job.seed)
    ran: list[int] = []  # the epochs trained in this process (fewer after a resume)

    def after_epoch(epoch, logs):
        ran.append(epoch)
        time.sleep(job.pause_after_epoch)

    out = Path(job.out_dir)
    start = time.perf_counter()
    model, history = fit(
        lambda: build_model(job),
        train,
        validation=val,
        epochs=job.epochs,
        cfg=cfg,
        folder=out,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=after_epoch)],
        verbose="auto" if strat.is_chief(dist) else 0,
        loop=loop or job.loop,
    )
    train_s = time.perf_counter() - start
    steps = int(model.optimizer.iterations.numpy())
    per_epoch = int(train.cardinality())
    initial_epoch = len(history["loss"]) - len(ran)
    result = {
        "worker": index,
        "workers": workers,
        "replicas": dist.num_replicas_in_sync,
        "strategy": strategy,
        "job": asdict(job),
        "history": history,
        "initial_epoch": initial_epoch,
        "iterations": steps,
        "steps_per_epoch": per_epoch,
        "train_s": round(train_s, 3),
        "steps_per_s": _steps_per_s(history["time_s"][initial_epoch:], per_epoch, train_s),
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


# --------------------------------------------------------------------------- the cluster


def start_cluster(workers: int, job: Job, *, quiet: bool = False) -> Processes:
    """Start ``workers`` worker processes training ``job``; stop them with ``.stop()``."""
    check_positive("workers", workers)
    ports = free_ports(workers)
    cmd = [sys.executable, "-m", "dlcourse.training.distributed", "--worker", *to_argv(job)]
    procs = Processes(log_dir=Path(job.out_dir) / "logs", echo=() if quiet else ("worker0",))
    try:
        for i in range(workers):
            procs.start(f"worker{i}", cmd, {"TF_CONFIG": tf_config(ports, i)})
    except BaseException:
        procs.stop()
        raise
    return procs


def launch(
    workers: int = 2, job: Job | None = None, *, timeout: float = 600.0, quiet: bool = False
) -> list[dict]:
    """Train ``job`` on ``workers`` local processes; return each worker's result.

    Raises:
        RuntimeError: a worker failed (its log's tail is in the message).
        TimeoutError: the cluster ran past ``timeout`` seconds (every worker is stopped).
    """
    job = job or Job()
    check_positive("timeout", timeout)
    with start_cluster(workers, job, quiet=quiet) as procs:
        codes = procs.wait(timeout)
    bad = [name for name, code in codes.items() if code]
    if bad:
        raise RuntimeError(
            f"{bad[0]} exited with code {codes[bad[0]]} (all exit codes: {codes}); "
            f"log tail:\n{procs.log_tail(bad[0])}"
        )
    out = Path(job.out_dir)
    return [json.loads((out / f"result_worker{i}.json").read_text()) for i in range(workers)]


def compare_workers(
    counts: Sequence[int] = (1, 2), job: Job | None = None, *, timeout: float = 300.0
) -> list[dict]:
    """Train the same job (same global batch) on 1, 2 ... workers; one row per cluster size.

    Every size runs the distributed loop (``loop="custom"``), so the rows differ only in the
    number of workers. ``steps_per_s`` is global steps per second of epochs 2.. (training and
    validation; TensorFlow start-up and graph tracing excluded); ``wall_s`` includes start-up.
    Each cluster writes into ``<out_dir>/workers<N>``; ``weights`` is its worker 0's weights file.
    """
    job = (job or Job()).replace(loop="custom")  # one loop for every size
    rows = []
    for n in counts:
        sub = job.replace(out_dir=f"{job.out_dir}/workers{n}")
        start = time.perf_counter()
        results = launch(n, sub, timeout=timeout, quiet=True)
        wall = time.perf_counter() - start
        chief = results[0]
        paths = [Path(sub.out_dir) / f"weights_worker{i}.npz" for i in range(n)]
        rows.append(
            {
                "workers": n,
                "steps_per_s": chief["steps_per_s"],
                "train_s": chief["train_s"],
                "wall_s": round(wall, 2),
                "val_accuracy": chief["history"]["val_accuracy"][-1],
                "val_accuracy_curve": chief["history"]["val_accuracy"],
                "iterations": chief["iterations"],
                "identical_weights": same_weights(paths),
                "weights": str(paths[0]),
            }
        )
    return rows


def load_weights(path: str | Path) -> list:
    """The arrays of a ``weights_worker<i>.npz`` file, in the model's weight order."""
    import numpy as np

    with np.load(path) as npz:
        return [npz[k] for k in sorted(npz.files, key=lambda k: int(k.split("_")[1]))]


def same_weights(paths: Sequence[str | Path]) -> bool:
    """Whether the ``.npz`` weight files of all workers hold bit-identical arrays."""
    import numpy as np

    first, *others = (load_weights(p) for p in paths)
    return all(
        all(np.array_equal(a, b) for a, b in zip(first, other, strict=True)) for other in others
    )


def max_weight_difference(a: str | Path, b: str | Path) -> float:
    """The largest absolute difference between two weight files' arrays."""
    import numpy as np

    pairs = zip(load_weights(a), load_weights(b), strict=True)
    return float(max(np.max(np.abs(x - y)) for x, y in pairs))


def summary(results: list[dict]) -> str:
    chief = results[0]
    h = chief["history"]
    return (
        f"{chief['workers']} worker(s), {chief['replicas']} replica(s): {len(h['loss'])} epochs, "
        f"{chief['iterations']} steps (resumed at epoch {chief['initial_epoch']}), "
        f"val_accuracy {h['val_accuracy'][-1]:.3f}, {chief['steps_per_s']:.1f} steps/s"
    )


# --------------------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    """The :class:`Job` flags (generated from its fields) plus the launcher's own."""
    p = config_parser(Job, description=__doc__, prog="python -m dlcourse.training.distributed")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    p.add_argument(
        "--timeout", type=float, default=600.0, help="stop every worker after this many seconds"
    )
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    try:
        job = parse_config(Job, argv, p)
        args = p.parse_args(argv)
        if args.worker:
            train_worker(job)
            return 0
        check_positive("workers", args.workers)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    status, results = guarded(
        lambda: launch(args.workers, job, timeout=args.timeout),
        interrupted="every worker stopped; run again to resume",
    )
    if status:
        return status
    print(summary(results))
    print(f"results and weights in {job.out_dir}/")
    return 0


if __name__ == "__main__":
    from dlcourse.errors import run_main

    sys.exit(run_main(main))
