"""GPU training throughput: ResNet-50 and VGG-16 at 224x224, float32 vs mixed precision + XLA.

He et al., "Deep Residual Learning for Image Recognition", CVPR 2016; Simonyan and Zisserman,
"Very Deep Convolutional Networks for Large-Scale Image Recognition", ICLR 2015. Training
images/s of the dlcourse builders and of ``keras.applications`` (random weights, 1000 classes)
on synthetic data that already sits on the GPU, then the same step fed by dlcourse's tf.data
loader from TFRecord files (loader-fed / synthetic >= 0.95 means the input pipeline keeps the GPU
busy). Without a GPU nothing is measured and the table says so.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from dlcourse.bench import Table

IMAGE = (224, 224, 3)
CLASSES = 1000
MODES = {"float32": ("float32", False), "mixed_float16 + XLA": ("mixed_float16", True)}


def run(quick: bool = False) -> list[Table]:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return [
            Table("GPU training throughput", ["status"], [["not measured: no GPU on this machine"]])
        ]
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    batch, warmup, steps = (8, 1, 3) if quick else (64, 5, 30)
    rows, feed_rows = [], []
    for arch in ("resnet50", "vgg16"):
        for impl in ("dlcourse", "keras.applications"):
            build = _builder(arch, impl)
            if build is None:
                rows.append([arch, impl, "not available", "", "", ""])
                continue
            speed = {m: _images_per_s(build, m, batch, warmup, steps) for m in MODES}
            f32, mixed = speed["float32"], speed["mixed_float16 + XLA"]
            rows.append([arch, impl, batch, round(f32, 1), round(mixed, 1), round(mixed / f32, 2)])
        build = _builder(arch, "dlcourse") or _builder(arch, "keras.applications")
        fed, synth = _loader_vs_synthetic(build, batch, warmup, steps, quick)
        feed_rows.append(
            [
                arch,
                "mixed_float16 + XLA",
                round(fed, 1),
                round(synth, 1),
                round(fed / synth, 3),
                "yes" if fed / synth >= 0.95 else "no",
            ]
        )
    return [
        Table(
            f"Training images/s on {name} (synthetic data on the device)",
            ["model", "implementation", "batch", "float32", "mixed_float16 + XLA", "speed-up"],
            rows,
            notes=[f"{steps} timed steps after {warmup} warm-up steps; SGD; 224x224x3."],
        ),
        Table(
            f"Loader-fed vs synthetic-on-device on {name}",
            ["model", "mode", "loader-fed img/s", "synthetic img/s", "ratio", ">= 0.95"],
            feed_rows,
            notes=[
                (
                    "Loader: dlcourse.data.loader.from_files over uint8 TFRecord shards, "
                    "scaled to [0, 1], batched, prefetched to the GPU."
                )
            ],
        ),
    ]


def _builder(arch: str, impl: str):
    import keras

    if impl == "keras.applications":
        fn = {"resnet50": keras.applications.ResNet50, "vgg16": keras.applications.VGG16}[arch]
        return lambda: fn(weights=None, input_shape=IMAGE, classes=CLASSES)
    from dlcourse.models import create_model, list_models

    if arch not in list_models():
        return None
    return lambda: create_model(arch, input_shape=IMAGE, classes=CLASSES)


def _compiled(build, mode: str):
    import keras

    from dlcourse.training import precision

    dtype, jit = MODES[mode]
    with precision.policy(dtype):
        model = build()
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss="sparse_categorical_crossentropy",
        jit_compile=jit,
    )
    return model, jit


def _step_fn(model, jit: bool, batch: int):
    import tensorflow as tf

    x = tf.random.uniform((batch, *IMAGE))
    y = tf.random.uniform((batch,), maxval=CLASSES, dtype=tf.int64)
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)  # builds optimizer and metrics
    return tf.function(model.train_step, jit_compile=jit), (x, y)


def _timed(step, next_batch, warmup: int, steps: int, batch: int) -> float:
    for _ in range(warmup):
        logs = step(next_batch())
    float(logs["loss"])  # wait for the GPU
    start = time.perf_counter()
    for _ in range(steps):
        logs = step(next_batch())
    float(logs["loss"])
    return batch * steps / (time.perf_counter() - start)


def _images_per_s(build, mode: str, batch: int, warmup: int, steps: int) -> float:
    import keras

    model, jit = _compiled(build, mode)
    step, data = _step_fn(model, jit, batch)
    with_device = _timed(step, lambda: data, warmup, steps, batch)
    del model
    keras.backend.clear_session()
    return with_device


def _loader_vs_synthetic(build, batch, warmup, steps, quick) -> tuple[float, float]:
    import keras

    from dlcourse.data import loader

    with tempfile.TemporaryDirectory() as tmp:
        n = batch * (4 if quick else 16)
        _write_shards(Path(tmp), n, shards=4)
        ds = loader.from_files(
            f"{tmp}/train-*.tfrecord",
            loader.Features(IMAGE),
            format="tfrecord",
            batch_size=batch,
            repeat=True,
            check=False,
            drop_remainder=True,
            device="auto",
        )
        model, jit = _compiled(build, "mixed_float16 + XLA")
        step, data = _step_fn(model, jit, batch)
        it = iter(ds)
        fed = _timed(step, lambda: next(it), warmup, steps, batch)
        synth = _timed(step, lambda: data, warmup, steps, batch)
        del model
        keras.backend.clear_session()
    return fed, synth


def _write_shards(folder: Path, n: int, shards: int) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    for s in range(shards):
        with tf.io.TFRecordWriter(str(folder / f"train-{s:02d}-of-{shards:02d}.tfrecord")) as w:
            for _ in range(n // shards):
                x = rng.integers(0, 256, IMAGE, dtype=np.uint8)
                feature = {
                    "x": tf.train.Feature(bytes_list=tf.train.BytesList(value=[x.tobytes()])),
                    "y": tf.train.Feature(
                        int64_list=tf.train.Int64List(value=[int(rng.integers(CLASSES))])
                    ),
                }
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                w.write(example.SerializeToString())
