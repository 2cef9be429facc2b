"""Every workaround for an upstream bug and every private Keras/keras-tuner API, in one place.

Each entry names what it works around; ``tests/test_upstream.py`` holds one canary per entry
that fails when upstream changes or fixes it, so the workaround can then go.

* keras#20585: Keras 3 ``model.fit`` under a ``MultiWorkerMirroredStrategy`` with more than one
  worker fails in TF 2.21 ("Attempt to convert a value (PerReplica...)"), so ``fit`` trains
  several workers with its own distributed loop (:func:`keras_fit_supports`).
* ``BackupAndRestore`` keeps the completed epochs in a private ``training_metadata.json``;
  ``fit`` reads it to cut its saved history to the restored epoch (:func:`keras_backup_epoch`).
* keras-tuner's chief (``oracle_chief.start_server``) checks every 20 s whether the search is
  over and may exit before a slow worker has connected; :func:`serve` is the same server,
  polling every 0.2 s and waiting for every worker (private ``keras_tuner.src`` API).
* Keras has no public accessor for its home folder, where ``keras.datasets`` caches its files:
  :func:`keras_home` reads the private ``keras.src.backend.config.keras_home``.
* A functional model's graph by depth is the private ``Functional._nodes_by_depth``; the
  papers' depth rule (:func:`dlcourse.models.summary.paper_depth`) walks it through
  :func:`nodes_by_depth`.
* Keras's random layers draw every seed through ``SeedGenerator.next()`` (the private
  ``keras.src.random.seed_generator.draw_seed``); :func:`batch_seed` is a generator without
  the state variable, so the loader's per-batch seed alone decides a batch's transforms
  (:mod:`dlcourse.data.augment`).
"""

from __future__ import annotations

import functools
import json
import os
import time
from pathlib import Path

#: keras#20585: the most workers ``model.fit`` trains under MultiWorkerMirroredStrategy.
KERAS_FIT_MAX_WORKERS = 1


def keras_fit_supports(workers: int) -> bool:
    """Whether Keras ``model.fit`` can train on ``workers`` worker processes (keras#20585)."""
    return workers <= KERAS_FIT_MAX_WORKERS


def keras_backup_epoch(backup_dir: str | os.PathLike) -> int:
    """Epochs completed by the run ``BackupAndRestore(backup_dir)`` will restore (0: none)."""
    path = Path(backup_dir) / "training_metadata.json"
    if not (Path(backup_dir) / "latest.weights.h5").exists() or not path.exists():
        return 0
    return int(json.loads(path.read_text())["epoch"])


def keras_home() -> str:
    """Keras' folder: ``$KERAS_HOME``, else ``~/.keras`` (``/tmp/.keras`` when not writable);
    ``keras.utils.get_file`` caches ``keras.datasets`` files in its ``datasets/``."""
    from keras.src.backend.config import keras_home as private_keras_home

    return private_keras_home()


def nodes_by_depth(model) -> dict:
    """A functional model's nodes by depth, ``{depth: [node, ...]}`` (0: the output nodes);
    each node has ``.operation`` (its layer) and ``.parent_nodes``."""
    return model._nodes_by_depth


def batch_seed(seed):
    """A ``keras.random.SeedGenerator`` for one batch: its n-th draw is ``seed`` folded with n.

    ``seed`` is a shape-[2] integer tensor. The draws are a pure function of it (no state
    variable: the base class's ``__init__``, which creates one, is not called). Draws happen
    while a map function is traced, so each random op of the graph gets its own constant n.
    """
    return _batch_seed_class()(seed)


@functools.cache
def _batch_seed_class() -> type:
    import keras
    import tensorflow as tf

    class BatchSeed(keras.random.SeedGenerator):
        def __init__(self, seed):  # no super().__init__(): see batch_seed
            self.batch_seed = seed
            self.draws = 0

        def next(self, ordered: bool = True):
            self.draws += 1
            return tf.random.experimental.stateless_fold_in(self.batch_seed, self.draws)

    return BatchSeed


def serve(oracle, expected_workers: int, on_listen=None, poll_s: float = 0.2) -> None:
    """keras-tuner's chief loop, polling every ``poll_s`` seconds instead of every 20 s.

    keras-tuner's own test (the oracle is idle) passes too early when a worker is slow to
    start: it would find the chief gone and wait forever. So the chief also waits until
    ``expected_workers`` workers were told to stop. ``on_listen(port)`` is called once the
    server listens (with port 0 in the environment, the OS picks the port).
    """
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

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = Servicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"The tuning chief could not listen on {address} (port in use?)")
    server.start()
    if on_listen is not None:
        on_listen(port)
    try:
        while not (
            servicer.stop_triggered
            and exit_chief(oracle)
            and len(servicer.stopped) >= expected_workers
        ):
            time.sleep(poll_s)
    finally:
        server.stop(grace=1)


# --------------------------------------------------------------------------- keras-tuner
# keras-tuner's oracle internals that dlcourse.tuning reads or writes, and TensorFlow's private
# switch that turns op determinism off again (the search's trials train deterministically).

#: Every private keras-tuner name ``dlcourse.tuning`` touches, with where and why. Each has a
#: canary in ``tests/test_upstream.py`` (it exists and still means what dlcourse assumes).
KERAS_TUNER_PRIVATE: dict[str, str] = {
    "Oracle._seed_state": "oracles.ResumableMixin: keras-tuner turns seed=0 into a random seed "
    "(`seed or random.randint(1, 10000)`); the mixin resets this counter of _random_values",
    "BayesianOptimizationOracle._random_state": "oracles.ResumableMixin: the Gaussian "
    "process's sampler, reseeded with the seed the mixin restores",
    "Oracle._retry_queue": "oracles.ResumableMixin.reload: a trial completed on disk but still "
    "ongoing in oracle.json leaves the retry queue instead of running twice",
    "Oracle.end_order": "oracles.ResumableMixin.reload: such a trial joins the ended trials",
    "Oracle._run_times": "oracles.ResumableMixin.reload: such a trial counts as run once",
    "Oracle._duplicate": "grid and coarse-to-fine: was a point tried already",
    "Oracle._max_collisions": "coarse_to_fine: how many collisions before it lists the space",
    "Oracle._random_values": "coarse_to_fine._untried: a random point of a continuous space",
    "Oracle._set_project_dir": "testfunctions.drive: an oracle driven without a tuner",
    "GridSearchOracle._get_next_combination": "oracles.GridSearchOracle: the grid's next point",
    "GridSearchOracle._compare": "oracles.GridSearchOracle: the grid order of two points",
}


class op_determinism:  # a context manager, named and used like a function
    """TensorFlow op determinism inside a ``with`` block, restored to what it was on leaving.

    ``tf.config.experimental.enable_op_determinism`` is public but has no public way back; a
    search that turned it on would slow down (and change the numbers of) everything run after
    it in the same process, so the private ``disable_op_determinism`` undoes it.
    """

    def __init__(self, enabled: bool = True):
        self.enabled, self.switched = enabled, False

    def __enter__(self) -> None:
        from tensorflow.python.framework import config as tf_config

        self.switched = self.enabled and not tf_config.is_op_determinism_enabled()
        if self.switched:
            tf_config.enable_op_determinism()

    def __exit__(self, *exc) -> None:
        from tensorflow.python.framework import config as tf_config

        if self.switched:
            tf_config.disable_op_determinism()
