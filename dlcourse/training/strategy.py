"""The strategy chooser: one device, all local GPUs, or several machines (from ``TF_CONFIG``).

==================  =============================================  ===========================
``strategy``        TensorFlow strategy                            training loop in ``fit``
==================  =============================================  ===========================
``default``         ``tf.distribute.get_strategy()`` (one device)  ``model.fit``
``mirrored``        ``MirroredStrategy``: all local GPUs (the CPU  ``model.fit``
                    when there is none)
``multi-worker``    ``MultiWorkerMirroredStrategy`` from           ``model.fit`` for one worker,
                    ``TF_CONFIG`` (one local worker without it)    the custom loop for several
==================  =============================================  ===========================

``TF_CONFIG`` is the JSON TensorFlow reads to find the cluster and this process's place in it::

    {"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
     "task": {"type": "worker", "index": 0}}

Worker 0 is the chief: it writes checkpoints, logs and the model. Everything is validated
*before* TensorFlow starts its gRPC server, so a typo is one ``ValueError``, not a hang.
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

import tensorflow as tf

from dlcourse import launch
from dlcourse.launch import worker_count  # the count lives below data and training
from dlcourse.training.config import STRATEGIES
from dlcourse.utils import check_choice

_CACHE: dict[str, tf.distribute.Strategy] = {}


def parse_tf_config(text: str | None = None) -> dict[str, Any] | None:
    """Parse and validate ``TF_CONFIG`` (default: the environment variable); None when unset.

    Raises:
        ValueError: invalid JSON, no ``cluster``/``task``, an unknown task type, an address
            that is not ``host:port``, or a task index out of range.
    """
    if text is None:
        text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        return None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"`TF_CONFIG` is not valid JSON ({err}). Received: TF_CONFIG={text!r}")
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise ValueError(  # noqa: TRY004 (the project's one error type)
            "`TF_CONFIG` must hold a 'cluster' dict such as {'worker': ['host:port', ...]}. "
            f"Received: TF_CONFIG={text!r}"
        )
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(
            "`TF_CONFIG` must hold a 'task' dict with 'type' and 'index', e.g. "
            f"{{'type': 'worker', 'index': 0}}. Received: TF_CONFIG={text!r}"
        )
    for job, addresses in config["cluster"].items():
        if not isinstance(addresses, list) or not addresses:
            raise ValueError(
                f"`TF_CONFIG` cluster[{job!r}] must be a non-empty list of 'host:port'. "
                f"Received: {addresses!r}"
            )
        for address in addresses:
            split_address(address)
    kind, index = task["type"], task["index"]
    check_choice("task type", kind, launch.TASK_TYPES)
    members = config["cluster"].get(kind)
    if members is None:
        raise ValueError(
            f"`TF_CONFIG` task type {kind!r} has no entry in 'cluster'. "
            f"Received: TF_CONFIG={text!r}"
        )
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(members):
        raise ValueError(
            f"`TF_CONFIG` task index must be in [0, {len(members)}) for the {len(members)} "
            f"{kind}(s) in the cluster. Received: index={index!r}"
        )
    return config


def split_address(address: Any) -> tuple[str, int]:
    """``"127.0.0.1:2222"`` -> ``("127.0.0.1", 2222)``; ValueError if malformed."""
    host, sep, port = str(address).rpartition(":")
    if not isinstance(address, str) or not sep or not host or not port.isdigit():
        raise ValueError(f"A cluster address must be 'host:port'. Received: address={address!r}")
    if not 0 < int(port) < 65536:
        raise ValueError(f"A port must be in (0, 65536). Received: address={address!r}")
    return host, int(port)


def own_address(config: dict[str, Any]) -> str:
    task = config["task"]
    return config["cluster"][task["type"]][task["index"]]


def check_port_free(address: str) -> None:
    """Raise ``ValueError`` if this machine cannot listen on ``address``'s port."""
    _, port = split_address(address)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("", port))
        except OSError as err:
            raise ValueError(
                f"Port {port} of this worker's address is in use ({err.strerror}); pick another "
                f"port in TF_CONFIG or stop the process that holds it. Received: address={address!r}"
            ) from None


def get_strategy(name: str = "default") -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy for a ``--strategy`` name.

    One ``MultiWorkerMirroredStrategy`` exists per process (TensorFlow allows one collective
    setup), so it is created once and returned again on later calls. Create it before any other
    TensorFlow work in a worker process.
    """
    check_choice("strategy", name, STRATEGIES)
    if name == "default":
        return tf.distribute.get_strategy()
    if name not in _CACHE:
        if name == "mirrored":
            _CACHE[name] = tf.distribute.MirroredStrategy()
        else:
            config = parse_tf_config()
            if config is not None and launch.num_workers(config) > 1:
                check_port_free(own_address(config))
            _CACHE[name] = tf.distribute.MultiWorkerMirroredStrategy()
    return _CACHE[name]


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the process that writes checkpoints and outputs (worker 0, or the only one)."""
    return worker_count(strategy) == 1 or launch.role(of="tf_config") == "chief"


def task_index(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id or 0) if resolver is not None else 0


def describe_devices(cfg: Any = None) -> str:
    """One line on where this process trains: the GPUs by name, or the CPU cores; with a
    :class:`~dlcourse.training.TrainConfig`, its strategy and precision too.

    Lists physical devices only, so it starts no TensorFlow runtime (a multi-worker strategy
    can still be created after it).
    """
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                 for g in gpus]  # fmt: skip
        where = f"training on {len(gpus)} GPU(s): {', '.join(names)}"
    else:
        where = f"training on the CPU ({os.cpu_count()} cores, no GPU found)"
    if cfg is not None and hasattr(cfg, "precision"):
        where += f"; strategy {cfg.strategy}, precision {cfg.precision}"
    return where
