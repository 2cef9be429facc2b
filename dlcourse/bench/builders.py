"""Builders: dlcourse's VGG-16 and ResNet-50 vs keras.applications, and XLA on/off per family.

Both tables time one training step (``train_on_batch``: forward, backward, SGD update) after a
warm-up that traces (and, with XLA, compiles) the step. Every ratio is measured within this one
run: the two models of a pair are timed in alternation (A, B, B, A, A, B, ...) so drift in machine
load hits both; each time is the median over repeats and each ratio the median of the per-repeat
ratios (the two back-to-back timings of one repeat share the machine's state). Goal: dlcourse /
keras <= 1.02.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from dlcourse.bench import Table

# (image side, batch, timed steps per repeat, repeats): full run and --quick.
FULL = {"side": 64, "batch": 8, "steps": 2, "repeats": 15}
QUICK = {"side": 32, "batch": 2, "steps": 1, "repeats": 2}
# XLA on/off: a small member of every family (width knob), so compiling stays short on a CPU.
XLA_MODELS = {
    "lenet5_modern": {"input_shape": (32, 32, 1)},
    "alexnet": {"input_shape": (64, 64, 3), "width": 0.25},
    "vgg16": {"input_shape": (64, 64, 3), "width": 0.25},
    "googlenet": {"input_shape": (64, 64, 3), "width": 0.25},
    "resnet50": {"input_shape": (64, 64, 3), "width": 0.25},
}
XLA_QUICK = {"small_cnn": {"input_shape": (28, 28, 1), "width": 0.25}}


def _compiled(model, jit: bool):
    import keras

    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy",
                  jit_compile=jit)  # fmt: skip
    return model


def _batch(model, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((batch, *model.input_shape[1:]), dtype=np.float32)
    y = rng.integers(0, model.output_shape[-1], batch)
    return x, y


def time_pair(a, b, *, batch: int, steps: int, repeats: int) -> tuple[float, float, float]:
    """Median seconds per training step of ``a`` and of ``b``, and the median ratio a / b.

    The two are timed back to back in every repeat, in alternating order.
    """
    data = {id(m): _batch(m, batch) for m in (a, b)}
    for m in (a, b):  # warm-up: trace / compile the step
        for _ in range(2):
            m.train_on_batch(*data[id(m)])
    times: dict[int, list[float]] = {id(a): [], id(b): []}
    for r in range(repeats):
        for m in (a, b) if r % 2 == 0 else (b, a):
            start = time.perf_counter()
            for _ in range(steps):
                m.train_on_batch(*data[id(m)])
            times[id(m)].append((time.perf_counter() - start) / steps)
    ratios = [ta / tb for ta, tb in zip(times[id(a)], times[id(b)])]
    return (
        statistics.median(times[id(a)]),
        statistics.median(times[id(b)]),
        statistics.median(ratios),
    )


def versus_keras(cfg: dict, quick: bool = False) -> Table:
    import keras

    from dlcourse.models import create_model

    shape = (cfg["side"], cfg["side"], 3)
    pairs = {"VGG-16": ("vgg16", keras.applications.VGG16),
             "ResNet-50": ("resnet50", keras.applications.ResNet50)}  # fmt: skip
    if quick:
        del pairs["ResNet-50"]  # its step takes seconds to trace
    rows = []
    for label, (name, app) in pairs.items():
        keras.backend.clear_session()
        ours = _compiled(create_model(name, input_shape=shape, classes=10), jit=False)
        ref = _compiled(app(weights=None, input_shape=shape, classes=10), jit=False)
        same = ours.count_params() == ref.count_params()
        t_ours, t_ref, ratio = time_pair(ours, ref, batch=cfg["batch"], steps=cfg["steps"],
                                  repeats=cfg["repeats"])  # fmt: skip
        rows.append([label, f"{shape[0]}x{shape[1]}", cfg["batch"], same,
                     round(1000 * t_ours, 1), round(1000 * t_ref, 1), ratio])  # fmt: skip
    return Table(
        "dlcourse builders vs keras.applications: training step time",
        ["model", "input", "batch", "same params", "dlcourse ms", "keras ms", "ratio"],
        rows,
        notes=[
            f"{cfg['repeats']} repeats of {cfg['steps']} steps, the two models timed back to "
            "back in alternating order after 2 warm-up steps each; ms: median per step; ratio: "
            "median of the per-repeat ratios. 10 classes, SGD, no XLA. Goal: ratio <= 1.02."
            + (" Quick mode: VGG-16 only, tiny sizes: not a measurement." if quick else "")
        ],
    )  # fmt: skip


def xla_per_family(models: dict, cfg: dict) -> Table:
    import keras

    from dlcourse.models import create_model, model_family

    rows = []
    for name, kw in models.items():
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        plain = _compiled(create_model(name, classes=10, **kw), jit=False)
        xla = _compiled(create_model(name, classes=10, **kw), jit=True)
        start = time.perf_counter()
        xla.train_on_batch(*_batch(xla, cfg["batch"]))  # includes XLA compilation
        compile_s = time.perf_counter() - start
        t_plain, t_xla, ratio = time_pair(plain, xla, batch=cfg["batch"], steps=cfg["steps"],
                                   repeats=cfg["repeats"])  # fmt: skip
        side = kw["input_shape"][0]
        rows.append([model_family(name), name, kw.get("width", 1.0), f"{side}x{side}",
                     round(1000 * t_plain, 2), round(1000 * t_xla, 2), 1 / ratio,
                     round(compile_s, 1)])  # fmt: skip
    return Table(
        "XLA (jit_compile) on/off per family: training step time",
        ["family", "model", "width", "input", "off ms", "on ms", "on/off", "first step s"],
        rows,
        notes=[
            (
                "on/off < 1 means XLA is faster. The first XLA step (tracing + compiling) is "
                "shown separately and not in the median. LRN runs in float32 under XLA."
            )
        ],
    )  # fmt: skip


def run(quick: bool = False) -> list[Table]:
    cfg = QUICK if quick else FULL
    return [versus_keras(cfg, quick), xla_per_family(XLA_QUICK if quick else XLA_MODELS, cfg)]
