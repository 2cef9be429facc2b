"""The conditions a benchmark ran in: the machine, its load while a section ran, a calibration.

Used by :mod:`dlcourse.bench.__main__` to record, next to every section of BENCHMARKS.md, when
and how long it ran, on which cores, CPU, GPU and library versions, and how busy the machine was.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from pathlib import Path


class Meter:
    """Measures the conditions a section ran in, from its start to :meth:`stop`.

    Wall time; the 1-minute load average before and after; the share of all cores' time that
    other processes used meanwhile (busy CPU time of the machine minus this process's and its
    finished children's); the date, cores, CPU, GPU and library versions.
    """

    def __init__(self, quick: bool):
        import psutil

        self.quick = quick
        self.date = datetime.datetime.now(datetime.UTC)
        self.load_before = os.getloadavg()[0]
        self.busy, self.own = _busy_cpu_s(psutil), _own_cpu_s(psutil)
        self.start = time.perf_counter()

    def stop(self) -> dict:
        import psutil

        seconds = time.perf_counter() - self.start
        cores = os.cpu_count() or 1
        others = (_busy_cpu_s(psutil) - self.busy) - (_own_cpu_s(psutil) - self.own)
        return {
            "date": f"{self.date:%Y-%m-%d %H:%M} UTC",
            "seconds": round(seconds, 1),
            "quick": self.quick,
            "cores": cores,
            "cpu": _cpu_model(),
            "gpu": _gpu_names(),
            "versions": _versions(),
            "load_before": round(self.load_before, 2),
            "load_after": round(os.getloadavg()[0], 2),
            # CPU times advance in clock ticks: over a very short section the quotient can
            # leave [0, 1], which no machine can use, so it is clipped there.
            "others_share": round(min(1.0, max(0.0, others) / max(seconds * cores, 1e-9)), 3),
        }


def _busy_cpu_s(psutil) -> float:
    """Seconds of CPU time the whole machine has spent busy since boot (all cores)."""
    t = psutil.cpu_times()
    return sum(getattr(t, k, 0.0) for k in ("user", "nice", "system", "irq", "softirq", "steal"))


def _own_cpu_s(psutil) -> float:
    """CPU seconds of this process and its finished children (lab and worker processes)."""
    t = psutil.Process().cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def _reset_keras() -> None:
    if "keras" in sys.modules:
        import keras

        keras.mixed_precision.set_global_policy("float32")
        keras.backend.clear_session()


def machine(calibration_s: float | None = None) -> list[str]:
    """The machine of this run: CPU, cores, RAM, OS, Python, TF/Keras, GPU, date, and the
    seconds of the :func:`calibrate` workload."""
    import psutil

    now = datetime.datetime.now(datetime.UTC)
    calibration = (
        [f"- calibration: {CALIBRATION} in {calibration_s:.1f} s, at the start of the run"]
        if calibration_s is not None
        else []
    )
    return [
        f"- CPU: {_cpu_model()}",
        f"- cores: {os.cpu_count()} logical, {psutil.cpu_count(logical=False)} physical",
        f"- RAM: {psutil.virtual_memory().total / 2**30:.1f} GiB",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}, {_versions()}",
        f"- GPU: {_gpu_names()}",
        f"- date: {now:%Y-%m-%d %H:%M} UTC",
        *calibration,
    ]


CALIBRATION = "200 training steps of the 784-300-100-10 MLP (batch 64, Adam, float32)"


def calibrate() -> float:
    """Seconds of a fixed workload (:data:`CALIBRATION`, on random data, after one untimed
    epoch that traces it): a time measured on two machines compares through its ratio to this."""
    import keras
    import numpy as np

    from dlcourse.models import create_model

    rng = np.random.default_rng(0)
    x = rng.random((64 * 20, 28, 28, 1), dtype=np.float32)  # 20 batches per epoch
    y = rng.integers(0, 10, len(x))
    keras.utils.set_random_seed(0)
    model = create_model("mlp_mnist", input_shape=(28, 28, 1), classes=10)
    model.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=64, epochs=10, verbose=0)
    seconds = time.perf_counter() - start
    _reset_keras()
    return seconds


def _versions() -> str:
    import keras
    import tensorflow as tf

    return f"TensorFlow {tf.__version__}, Keras {keras.__version__}"


def _gpu_names() -> str:
    """The GPUs TensorFlow sees, by name, or ``none``."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return ", ".join(names) if names else "none"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
