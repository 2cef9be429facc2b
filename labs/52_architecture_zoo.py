"""
Title: The architecture zoo: every CNN family trained small on real MNIST digits
Unit: IV
Notes: 000 (Unit IV: CNN architectures, LeNet-5, AlexNet, GoogLeNet, ResNet), 002 (classic networks summary table)
Lesson: Architecture must fit the data: on a few thousand 32x32 digits and a few epochs, the
small networks designed for digits (the notes' small CNN, LeNet-5) learn faster than the
ImageNet families shrunk to a similar size (VGG, ResNet), whose depth and multiply-adds buy
nothing here; the builders themselves reproduce the published models (ResNet-50 has
keras.applications' parameter count).
Description: Trains one member of each registered CNN family (the notes' small CNN, LeNet-5,
AlexNet with LRN, VGG, GoogLeNet, ResNet) on mnist5k (real MNIST digits from the loader stage,
zero-padded to 32x32; the first 1,280 training digits by default) for a few epochs, each shrunk
with the builders' width knob so the whole zoo trains in a few minutes on 2 CPU cores. VGG is
built by the lab itself from its own vgg_block (the exercise) on the registry's spec table, the
same network as the registry's; the other families come from the registry.
Reports a table of parameters, multiply-adds, median training step time and test accuracy,
and one figure (parameters vs accuracy, marker size = step time). Small data and few epochs:
the ranking says how quickly each design learns here, not how it does on ImageNet.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

import time
from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models import create_model, model_family
from dlcourse.models.summary import shapes_only, total_macs
from dlcourse.models.vgg import SPECS as VGG_SPECS
from dlcourse.training import fit
from dlcourse.utils import atomic_path

LAB = labkit.lab_name(__file__)
# Families that are large at width 1 get the `width` knob; the small ones train at full size.
FULL_SIZE = ("small_cnn", "lenet")


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    models: tuple = arg(
        ("small_cnn", "lenet5_modern", "vgg11", "resnet18"),
        "registered models to train on mnist5k",
        check="model",
    )
    counted: tuple = arg(
        ("alexnet", "googlenet", "resnet50"),
        "registered models only built at the same size and counted (params, multiply-adds)",
        check="model",
    )
    width: float = arg(
        0.125, "channel multiplier for AlexNet, VGG, GoogLeNet and ResNet", check="positive"
    )
    epochs: int = arg(6, "training epochs per model", check="positive")
    batch_size: int = arg(64, "mini-batch size", check="positive")
    learning_rate: float = arg(2e-3, "Adam learning rate", check="positive")
    bn_momentum: float = arg(
        0.9, "ResNet batch-norm momentum (Keras' 0.99 lags on ~100 steps)", check="fraction"
    )
    n_train: int = arg(
        1280, "training digits used (mnist5k has 3,500; keeps the zoo quick)", check="positive"
    )

    # A smoke test: two small families, one epoch on 128 images; one model counted.
    QUICK = labkit.quick(models=("small_cnn", "vgg11"), counted=("alexnet",), epochs=1, n_train=128)


class StepTimer(keras.callbacks.Callback):
    """Records the wall time of every training batch."""

    def on_train_begin(self, logs=None):
        self.times = []

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter() - self._start)


def vgg_block(x, channels: list[int], block: int):
    """One VGG block (Simonyan and Zisserman, 2015): a stack of 3x3 convolutions that keep the
    side, then a 2x2 max pool that halves it."""
    # For each c in channels (i = 1, 2, ...) apply Conv2D(c, 3, padding="same",
    # activation="relu", name=f"block{block}_conv{i}"); then MaxPooling2D(2, strides=2,
    # name=f"block{block}_pool"); return the pooled tensor.
    ### BEGIN SOLUTION
    for i, c in enumerate(channels, 1):
        x = keras.layers.Conv2D(c, 3, padding="same", activation="relu",
                                name=f"block{block}_conv{i}")(x)  # fmt: skip
    return keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)
    ### END SOLUTION


def vgg(name: str, *, input_shape=(32, 32, 1), classes: int = 10, width: float = 1.0):
    """The registry's VGG ``name`` (its spec table, width knob and head) built from the lab's
    vgg_block: blocks of 3x3 convs, flatten, two ReLU dense layers, the softmax classifier."""
    inputs = keras.Input(input_shape)
    x, block, channels = inputs, 1, []
    for item in VGG_SPECS[name]:  # e.g. vgg11: [64, "M", 128, "M", 256, 256, "M", ...]
        if item == "M":  # "M" closes a block
            x, block, channels = vgg_block(x, channels, block), block + 1, []
        else:
            channels.append(max(1, round(item * width)))
    x = keras.layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = keras.layers.Dense(max(1, round(4096 * width)), activation="relu", name=f"fc{i}")(x)
    x = keras.layers.Dense(classes, name="predictions")(x)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="predictions_act")(x)
    return keras.Model(inputs, outputs, name=name)


def zoo_model(name: str, **kwargs) -> keras.Model:
    """A zoo member: VGG from the lab's own blocks, every other family from the registry."""
    return (vgg if model_family(name) == "vgg" else create_model)(name, **kwargs)


def zoo_kwargs(cfg: Config, name: str) -> dict:
    """The builder arguments of a zoo member: the width knob for the large families."""
    kw = {} if model_family(name) in FULL_SIZE else {"width": cfg.width}
    if model_family(name) == "resnet":
        kw["bn_momentum"] = cfg.bn_momentum
    if model_family(name) == "alexnet":  # 32x32 leaves 1x1 maps after S4: no room for the
        kw["variant"] = "notes"  # paper's pool after C7, so the notes' table variant
    return kw


def count_one(cfg: Config, name: str) -> dict:
    """Build one registered model at the zoo's size (shapes only) and count it."""
    kw = zoo_kwargs(cfg, name)
    model = shapes_only(zoo_model, name, input_shape=(32, 32, 1), classes=10, **kw)
    return {"family": model_family(name), "width": kw.get("width", 1.0),
            "params": model.count_params(), "macs": total_macs(model)}  # fmt: skip


def train_one(cfg: Config, name: str, sets, out) -> dict:
    """Train one registered model through dlcourse's fit; its size, cost, speed and accuracy."""
    epochs = cfg.epochs
    kw = zoo_kwargs(cfg, name)

    def build():
        model = zoo_model(name, input_shape=(32, 32, 1), classes=10, **kw)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])  # fmt: skip
        return model

    keras.utils.set_random_seed(cfg.seed)
    folder = None if cfg.quick else out / name  # quick: no TensorBoard logs or backups
    timer = StepTimer()
    model, hist = fit(build, sets["train"], validation=sets["val"], epochs=epochs, cfg=cfg,
                      folder=folder, callbacks=[timer], verbose=2)  # fmt: skip
    steps_per_epoch = len(timer.times) // epochs
    warm = timer.times[steps_per_epoch:] or timer.times[1:] or timer.times  # skip tracing
    _, test_acc = model.evaluate(sets["test"], verbose=0)
    return {
        "family": model_family(name),
        "width": kw.get("width", 1.0),
        "params": model.count_params(),
        "macs": total_macs(model),
        "step_ms": round(1000 * float(np.median(warm)), 2),
        "train_time_s": hist["time_s"][-1],
        "val_accuracy": hist["val_accuracy"][-1],
        "test_accuracy": float(test_acc),
    }


def table(rows: dict) -> str:
    lines = ["| model | width | params | MACs | step (ms) | test accuracy |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, r in rows.items():
        trained = "step_ms" in r  # the counted-only members have no step time or accuracy
        step, acc = (f"{r['step_ms']:.1f}", f"{r['test_accuracy']:.3f}") if trained else ("-", "-")
        lines.append(f"| {name} | {r['width']:g} | {r['params']:,} | {r['macs']:,} | "
                     f"{step} | {acc} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    epochs = cfg.epochs

    # The data: the first n_train mnist5k digits from the loader, padded to 32x32.
    sets = data.datasets("mnist5k", batch_size=cfg.batch_size, pad_to=32, seed=cfg.seed,
                         take=cfg.n_train)  # fmt: skip

    # The trained families on the same data; the other families built at the same size and
    # counted only (training them all would take minutes).
    rows = {name: train_one(cfg, name, sets, out) for name in cfg.models}
    counted = {name: count_one(cfg, name) for name in cfg.counted if name not in rows}

    # A table of every member and a params-vs-accuracy plot of the trained ones.
    with atomic_path(out / "zoo.md") as tmp:
        tmp.write_text(table({**rows, **counted}))
    fig = plots.labelled_scatter(
        {n: (r["params"], r["test_accuracy"]) for n, r in rows.items()},
        sizes={n: r["step_ms"] for n, r in rows.items()}, logx=True,
        xlabel="parameters (log)", ylabel="test accuracy",
        title=f"CNN families on mnist5k, {epochs} epochs (marker: step time)",
    )  # fmt: skip
    plots.save(fig, out, "zoo")
    metrics = {"seed": cfg.seed, "epochs": epochs, "models": rows, "counted": counted}

    # The claims: the digit nets beat the shrunken ImageNet families here; ResNet-50 at paper
    # size has exactly keras.applications' parameter count.
    digit = {n: r["test_accuracy"] for n, r in rows.items() if r["family"] in FULL_SIZE}
    imagenet = {n: r["test_accuracy"] for n, r in rows.items() if r["family"] not in FULL_SIZE}
    ours = shapes_only(create_model, "resnet50").count_params()  # 224x224x3, 1000 classes
    reference = shapes_only(keras.applications.ResNet50, weights=None).count_params()
    metrics["claims"] = [
        labkit.beats(
            f"After {epochs} epochs on {cfg.n_train:,} digits, the best net designed for digits "
            f"({', '.join(digit)}) beats the best shrunken ImageNet family "
            f"({', '.join(imagenet)}) by at least 2 points",
            max(digit.values(), default=0.0), max(imagenet.values(), default=1.0), 0.02,
            needs_defaults=True),
        labkit.within(
            "The registry's ResNet-50 has exactly keras.applications.ResNet50's parameters",
            abs(ours - reference), 0, ours=ours, reference=reference),
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def check_vgg_block(ns: dict) -> dict:
    """vgg_block builds the registry's VGG block on a fresh input and channel list."""
    from dlcourse.models.vgg import vgg_block as reference

    rng = np.random.default_rng()
    h, w, c, block = (int(v) for v in rng.integers((6, 6, 1, 1), (25, 25, 8, 6)))
    channels = [int(v) for v in rng.integers(1, 33, size=int(rng.integers(1, 4)))]

    def build(fn):
        inputs = keras.Input((h, w, c))
        return keras.Model(inputs, fn(inputs, channels, block))

    got, want = build(ns["vgg_block"]), build(reference)
    same = got.output_shape == want.output_shape and [tuple(v.shape) for v in got.weights] == [
        tuple(v.shape) for v in want.weights
    ]
    diff = float("inf")
    if same:  # the same weights must give the same outputs: 3x3 SAME convs, ReLU, 2x2 pool
        got.set_weights(want.get_weights())
        x = rng.normal(size=(2, h, w, c)).astype("float32")
        diff = float(np.max(np.abs(keras.ops.convert_to_numpy(got(x) - want(x)))))
    return labkit.within(
        f"vgg_block on a fresh {h}x{w}x{c} input with channels {channels} (block {block}) gives "
        "the registry's block: the same output shape and weights, and with the same weights "
        "the same outputs (max |difference|)",
        diff, 1e-5, output_shape=list(got.output_shape[1:]),
        expected_output_shape=list(want.output_shape[1:]), params=got.count_params(),
        expected_params=want.count_params())  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
