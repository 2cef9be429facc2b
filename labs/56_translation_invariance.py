"""
Title: Translation: equivariant convolution, invariance from pooling, a CNN vs an MLP on shifted digits
Unit: IV
Notes: 000 (Unit IV: Why convolution?, parameter sharing, equivariant representation f(g(x)) = g(f(x)), pooling layer;
GoogLeNet: global average pooling), 001 (CNN by hand: max pooling, filters and depth)
Lesson: A convolution commutes with a shift (shift then convolve = convolve then shift) where a
dense layer does not, and pooling shrinks what a shift changes; so a small CNN ending in global
max pooling, trained on centred digits only, still reads digits shifted by 4 pixels, while an
MLP with 11 times its parameters loses most of its accuracy, unless it is trained on randomly
shifted copies (data augmentation), which makes it tolerant to the shift too. More filters
give more accuracy, max pooling beats average pooling here, and pooling before a flatten head
leaves far fewer parameters and less overfitting.
Description: Measures on mnist5k test digits (shifted by k pixels, zero-filled, up, down, left
and right) that a Keras Conv2D layer with random weights is translation-equivariant away from
the borders and a Dense layer (784 -> 784, read as a 28x28 map) is not. Then trains a small CNN
(three 3x3 conv layers, two 2x2 max pools, global max pooling, softmax) and the notes'
784-300-100-10 MLP (11 times its parameters) on the unshifted training digits, with the same
batches and Adam, and scores both on the test digits shifted by 0 to 4 pixels (the four
directions averaged): both read unshifted digits well, but at 4 pixels the MLP falls far below
the CNN. Data augmentation (notes 000, Unit III): the same MLP, from the same initial weights,
trained on the same batches shifted at random by up to 4 pixels (Keras RandomTranslation
through the loader's augment hook), loses little at 4 pixels, though the CNN, which never saw a
shift, still scores higher there (reported, not claimed: the margin varies by seed).
Pooling, filters and the head, on unshifted test digits, the same training: the CNN with a
quarter of the filters (4-8-16 maps) scores 0.06-0.13 lower (seeds 0-9) (notes 001: more filters, more
accuracy; depth is not varied here). The same CNN with average pooling (2x2 and global) scores
0.07-0.15 lower after 5 epochs: max pooling works better here, though part of it is speed
(the averaging network is still learning). Two conv layers (8, 16 maps) ending in a flatten
head, with and without 2x2 max pools: without the pools the head has a weight for every
position, 14 times the parameters, and the network fits its training digits more closely
than the test digits: its test-minus-training cross-entropy is 0.11-0.13 against
0.03-0.06 with the pools (seeds 0-9) (the accuracy gap moves less, 0.01-0.03, and test accuracy is no
better with the pools: pooling limits overfitting, it did not raise accuracy here). Not
claimed: that global average pooling limits overfitting. Measured on seeds 0-2 (the CNN above
with a GAP head against a 2x2 pool and flatten head), its train-test gap was smaller (0.003-0.011
against 0.015-0.024) but it also underfits after 5 epochs (training accuracy 0.86-0.89 against
0.98), so the smaller gap does not show less overfitting. How much a
1-pixel shift changes each layer's output is recorded too: each pooling layer shrinks the change
of its input maps (where a window's largest value stays inside it, the shift changes nothing).
The numbers per seed are in docs/bench/seeds/56_translation_invariance.json. Figures: test accuracy against
the shift, and one digit shifted with a feature map of the CNN's first layer moving along with
it.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

import itertools
from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import data, labkit, plots
from dlcourse.data.augment import keras_augmenter
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, mlp
from dlcourse.plots.images import accuracy_vs_shift, shifted_maps
from dlcourse.training.variants import train_variants, variant_data

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    epochs: int = arg(5, "training epochs of each network", check="positive")
    batch_size: int = arg(64, "mini-batch size", check="positive")
    learning_rate: float = arg(2e-3, "Adam's learning rate (both networks)", check="positive")
    filters: tuple[int, ...] = arg(
        (16, 32, 64),
        "maps of the CNN's 3x3 conv layers (a 2x2 max pool between two)",
        check="positive",
    )
    hidden: tuple[int, ...] = arg(
        (300, 100), "the MLP's hidden layers (notes: 300, 100)", check="positive"
    )
    few_filters: tuple[int, ...] = arg(
        (4, 8, 16), "maps of the same CNN with fewer filters", check="positive"
    )
    flat_filters: tuple[int, ...] = arg(
        (8, 16),
        "maps of the two-conv CNNs with a flatten head, with and without 2x2 max pools",
        check="positive",
    )
    max_shift: int = arg(4, "largest shift of the test digits, pixels", check="positive")
    train_shift: int = arg(
        4,
        "the augmented MLP's training digits are shifted at random by up to this many pixels "
        "in each direction (Keras RandomTranslation through the loader's augment hook)",
        check="positive",
    )
    n_train: int = arg(0, "first training digits used; 0 = all 3,500", check="non_negative")
    n_test: int = arg(0, "first test digits scored; 0 = all 1,000", check="non_negative")
    n_probe: int = arg(
        256, "test digits for the equivariance and pooling measurements", check="positive"
    )

    QUICK = labkit.quick(epochs=1, n_train=256, n_test=200, n_probe=32, max_shift=2)


def shift(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Images ``(n, h, w, c)`` moved ``dy`` pixels down and ``dx`` right; zeros fill in."""
    out = np.zeros_like(x)
    h, w = x.shape[1:3]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def directions(k: int) -> list[tuple[int, int]]:
    """The four shifts by ``k`` pixels: right, left, down, up (``(dy, dx)``)."""
    return [(0, k), (0, -k), (k, 0), (-k, 0)]


def relative_change(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / ||b||`` over the whole batch."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def equivariance(x: np.ndarray, max_shift: int, kernel: int = 5) -> dict:
    """Worst ``||f(shift(x)) - shift(f(x))|| / ||shift(f(x))||`` over shifts of 1 to
    ``max_shift`` pixels, away from the borders, for a random Conv2D (8 maps, SAME padding)
    and a random Dense layer on the flattened image whose 784 outputs are read as a 28x28 map.
    """
    n, h, w, _ = x.shape
    conv = keras.layers.Conv2D(8, kernel, padding="same", bias_initializer="random_normal")
    dense = keras.layers.Dense(h * w, bias_initializer="random_normal")
    layers = {
        "conv2d": lambda z: keras.ops.convert_to_numpy(conv(z)),
        "dense": lambda z: keras.ops.convert_to_numpy(dense(z.reshape(n, -1))).reshape(n, h, w, 1),
    }
    errors = {}
    for name, f in layers.items():
        fx, errs = f(x), []
        for k in range(1, max_shift + 1):
            m = k + kernel // 2  # beyond the zeros shifted in and the conv's own padding
            for dy, dx in directions(k):
                a, b = f(shift(x, dy, dx)), shift(fx, dy, dx)
                errs.append(relative_change(a[:, m:-m, m:-m], b[:, m:-m, m:-m]))
        errors[name] = {"max": round(max(errs), 8), "min": round(min(errs), 4)}
    return errors


def stage_change(model: keras.Model, x: np.ndarray) -> dict:
    """Relative change of each layer's output under a 1-pixel shift (4 directions averaged)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    stages = keras.Model(model.input, [layer.output for layer in layers])
    base = [keras.ops.convert_to_numpy(o) for o in stages(x)]
    change = np.zeros(len(layers))
    for dy, dx in directions(1):
        moved = stages(shift(x, dy, dx))
        change += [relative_change(keras.ops.convert_to_numpy(m), b) for m, b in zip(moved, base)]
    return {layer.name: round(float(c) / 4, 4) for layer, c in zip(layers, change)}


def shift_accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray, max_shift: int) -> list:
    """Test accuracy on the digits shifted by k = 0..max_shift pixels (mean of 4 directions)."""
    acc = []
    for k in range(max_shift + 1):
        moved = [shift(x, dy, dx) for dy, dx in (directions(k) if k else [(0, 0)])]
        pred = model.predict(np.concatenate(moved), batch_size=1024, verbose=0).argmax(1)
        acc.append(round(float((pred == np.tile(y, len(moved))).mean()), 4))
    return acc


def small_cnn(
    shape,
    filters: tuple[int, ...],
    classes: int = 10,
    *,
    pooling: str = "max",
    pools: bool = True,
    head: str = "global",
) -> keras.Model:
    """3x3 ReLU conv layers (``conv1``, ...) with a 2x2 pool (``pool1``, ...) between two, then
    global pooling (``head="global"``: the same weights at every position, start to end) or a
    2x2 pool and a flatten (``head="flatten"``: a weight per position), and a softmax.
    ``pooling``: ``"max"`` or ``"average"``, for the 2x2 and the global pools; ``pools=False``
    leaves the 2x2 pools out."""
    # Build it with Keras's functional API: keras.Input(shape); for each number of maps a
    # Conv2D(maps, 3, padding="same", activation="relu"), with a 2x2 MaxPooling2D or
    # AveragePooling2D (per `pooling`; none if not `pools`) before every conv layer but the
    # first; then GlobalMaxPooling2D / GlobalAveragePooling2D, or (head="flatten") one more 2x2
    # pool (if `pools`) and a Flatten; the output Dense(classes, softmax). Name the layers
    # conv1, pool1, conv2, ..., global_max_pool (or global_avg_pool), flatten and predictions:
    # the lab reads them by name.
    ### BEGIN SOLUTION
    pool, pool_all = {
        "max": (keras.layers.MaxPooling2D, keras.layers.GlobalMaxPooling2D),
        "average": (keras.layers.AveragePooling2D, keras.layers.GlobalAveragePooling2D),
    }[pooling]
    x = inputs = keras.Input(shape)
    for i, maps in enumerate(filters, 1):
        if i > 1 and pools:
            x = pool(2, name=f"pool{i - 1}")(x)  # (h, w) halved
        x = keras.layers.Conv2D(maps, 3, padding="same", activation="relu", name=f"conv{i}")(x)
    if head == "flatten":
        if pools:
            x = pool(2, name=f"pool{len(filters)}")(x)
        x = keras.layers.Flatten(name="flatten")(x)  # (h * w * maps,)
    else:
        x = pool_all(name="global_max_pool" if pooling == "max" else "global_avg_pool")(
            x
        )  # (maps,)
    outputs = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_cnn")
    ### END SOLUTION


def fit_scores(model: keras.Model, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy and mean cross-entropy of a trained classifier on ``(x, y)``."""
    p = model.predict(x, batch_size=1024, verbose=0)  # (n, classes)
    loss = -np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1)).mean()
    return {"accuracy": round(float((p.argmax(1) == y).mean()), 4), "loss": round(float(loss), 4)}


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: the loader's mnist5k digits, unshifted (no augmentation); a fresh training
    # pipeline per network, so both see the same batches. The test digits as arrays, to
    # shift them by hand.
    train, _ = variant_data(
        "mnist5k", batch_size=cfg.batch_size, seed=cfg.seed, take=cfg.n_train or None
    )
    test = data.datasets("mnist5k", batch_size=256, splits=("test",),
                         eval_take=cfg.n_test or None)["test"]  # fmt: skip
    x_test, y_test = data.arrays(test)  # (n, 28, 28, 1) in [0, 1]
    probe = x_test[: cfg.n_probe]
    shape = x_test.shape[1:]

    # Equivariance f(g(x)) = g(f(x)) (notes 000), measured: a random Conv2D layer against a
    # random Dense layer, on real digits shifted by 1 to max_shift pixels.
    metrics: dict = {"equivariance_error": equivariance(probe, cfg.max_shift)}

    # The two networks: a small CNN (weights shared across positions, global max pooling at
    # the end) and the notes' MLP on the flattened image, trained the same way.
    def build(net):
        def fresh():
            model = (small_cnn(shape, cfg.filters) if net == "CNN"
                     else mlp(hidden=cfg.hidden, input_shape=shape))  # fmt: skip
            return compile_classifier(model, keras.optimizers.Adam(cfg.learning_rate))

        return fresh

    models, _ = train_variants(
        {"CNN": build("CNN"), "MLP": build("MLP")}, train, None, epochs=cfg.epochs, cfg=cfg,
        folder=None,
    )  # fmt: skip
    metrics["params"] = {k: m.count_params() for k, m in models.items()}

    # Data augmentation (notes 000, Unit III): the same MLP, from the same initial weights,
    # trained on copies of the same batches shifted at random by up to train_shift pixels
    # (Keras RandomTranslation, a new shift for every digit and epoch).
    moves = keras_augmenter(rotate=0, zoom=0, shift=cfg.train_shift / shape[0], seed=cfg.seed)
    augmented, _ = train_variants(
        {"MLP, shift-augmented": build("MLP")}, lambda: train(augment=moves), None,
        epochs=cfg.epochs, cfg=cfg, folder=None,
    )  # fmt: skip
    models |= augmented

    # Pooling, filters and the head (notes 000, 001), on unshifted digits: the same training
    # for the same CNN with a quarter of the filters and with average instead of max pooling,
    # and for two conv layers ending in a flatten head, with and without 2x2 max pools (the
    # flatten head then has a weight for every position of every map).
    variants = {
        "CNN, fewer filters": {"filters": cfg.few_filters},
        "CNN, average pooling": {"filters": cfg.filters, "pooling": "average"},
        "2 conv layers, pooled, flatten": {"filters": cfg.flat_filters, "head": "flatten"},
        "2 conv layers, no pooling, flatten": {"filters": cfg.flat_filters, "head": "flatten",
                                               "pools": False},
    }  # fmt: skip
    builds = {
        name: lambda kw=kw: compile_classifier(
            small_cnn(shape, **kw), keras.optimizers.Adam(cfg.learning_rate)
        )
        for name, kw in variants.items()
    }
    others, _ = train_variants(builds, train, None, epochs=cfg.epochs, cfg=cfg, folder=None)
    x_train, y_train = data.arrays(train())
    fits = {}
    for name, model in {"CNN": models["CNN"], **others}.items():
        tr, te = fit_scores(model, x_train, y_train), fit_scores(model, x_test, y_test)
        fits[name] = {"params": model.count_params(), "train": tr, "test": te,
                      "accuracy_gap": round(tr["accuracy"] - te["accuracy"], 4),
                      "loss_gap": round(te["loss"] - tr["loss"], 4)}  # fmt: skip
    metrics["pooling_filters_head"] = fits

    # Shifted test digits: accuracy against the shift (4 directions averaged) of the three
    # networks; how much a 1-pixel shift changes each layer's output, and so what each pooling
    # layer of the CNN takes away.
    acc = {k: shift_accuracy(m, x_test, y_test, cfg.max_shift) for k, m in models.items()}
    drop = {k: round(a[0] - a[-1], 4) for k, a in acc.items()}
    change = {k: stage_change(m, probe) for k, m in models.items()}
    names = list(change["CNN"])  # in layer order: conv1, pool1, conv2, ..., predictions
    pooling = {pool: round(change["CNN"][conv] / change["CNN"][pool], 4)
               for conv, pool in itertools.pairwise(names) if "pool" in pool}  # fmt: skip
    metrics |= {"test_accuracy_by_shift": acc, "accuracy_drop_at_max_shift": drop,
                "layer_change_1px": change, "change_shrunk_by_pooling": pooling}  # fmt: skip
    aug = "MLP, shift-augmented"
    metrics["augmented_mlp_vs_cnn_at_max_shift"] = {
        "accuracy": {k: acc[k][-1] for k in ("CNN", aug)},
        "drop": {k: drop[k] for k in ("CNN", aug)},
    }
    title = "Test digits shifted; only the augmented MLP saw shifts"
    plots.save(accuracy_vs_shift(acc, title=title), out, "accuracy_vs_shift")

    # Figure: one digit shifted right, and the CNN's most active first-layer map moving along.
    digit = x_test[:1]
    conv1 = models["CNN"].get_layer("conv1")
    pick = int(keras.ops.convert_to_numpy(conv1(digit)).mean(axis=(0, 1, 2)).argmax())
    steps = list(range(0, cfg.max_shift + 1, 2))
    moved = [shift(digit, 0, k) for k in steps]
    maps = [keras.ops.convert_to_numpy(conv1(d))[0, :, :, pick] for d in moved]
    plots.save(shifted_maps([d[0, :, :, 0] for d in moved], maps, steps), out, "shifted_maps")

    # The claims: convolution commutes with a shift and a dense layer does not; pooling
    # shrinks the change a 1-pixel shift makes; the CNN loses far less accuracy to a shift
    # than the MLP, and so does the MLP trained on shifted copies.
    eq = metrics["equivariance_error"]
    clean = min(acc["CNN"][0], acc["MLP"][0])
    times = metrics["params"]["MLP"] / metrics["params"]["CNN"]
    pooled = fits["2 conv layers, pooled, flatten"]
    nopool = fits["2 conv layers, no pooling, flatten"]
    fewer = nopool["params"] / pooled["params"]
    metrics["claims"] = [
        labkit.within(
            f"Shifting digits by 1-{cfg.max_shift} pixels then applying a random Conv2D "
            "layer equals applying it then shifting, away from the borders (relative error "
            "at most 1e-5)",
            eq["conv2d"]["max"], 1e-5),
        labkit.at_least(
            "A random Dense layer on the flattened digit (784 outputs read as a 28x28 map) "
            "has no such relation: relative error at least 0.5 on every shift",
            eq["dense"]["min"], 0.5),
        labkit.at_least(
            "Pooling shrinks what a 1-pixel shift changes: each pooling layer of the trained "
            "CNN (its 2x2 max pools and the global max pool) divides the relative change of "
            "its input maps by at least 1.15",
            min(pooling.values()), 1.15, needs_defaults=True, ratios=pooling),
        labkit.claim(
            f"Trained on unshifted digits, both networks score at least 0.85 on unshifted test "
            f"digits, and on digits shifted by {cfg.max_shift} pixels the CNN loses at least "
            f"0.5 less accuracy than the MLP (which has {times:.0f} times its parameters)",
            clean >= 0.85 and drop["MLP"] - drop["CNN"] >= 0.5, needs_defaults=True,
            cnn_drop=drop["CNN"], mlp_drop=drop["MLP"],
            margin=round(drop["MLP"] - drop["CNN"], 4),
            clean_accuracy={k: a[0] for k, a in acc.items()}, params=metrics["params"]),
        labkit.beats(
            "Data augmentation makes the MLP tolerant to position: the same MLP trained on "
            f"digits shifted at random by up to {cfg.train_shift} pixels (Keras "
            f"RandomTranslation) loses at least 0.5 less accuracy at {cfg.max_shift} pixels "
            "than the plain MLP (drop from unshifted test digits)",
            drop["MLP"], drop[aug], 0.5, needs_defaults=True,
            accuracy_at_max_shift={k: a[-1] for k, a in acc.items()},
            clean_accuracy={k: a[0] for k, a in acc.items()}),
        labkit.beats(
            f"More filters, more accuracy: the CNN with {'-'.join(map(str, cfg.filters))} maps "
            f"beats the same CNN with {'-'.join(map(str, cfg.few_filters))} maps by at least "
            "0.04 test accuracy (unshifted digits, same training)",
            fits["CNN"]["test"]["accuracy"], fits["CNN, fewer filters"]["test"]["accuracy"],
            0.04, needs_defaults=True),
        labkit.beats(
            "Max pooling works better here: the CNN with 2x2 max pools and global max pooling "
            "beats the same CNN with average pooling (2x2 and global) by at least 0.05 test "
            f"accuracy after {cfg.epochs} epochs (unshifted digits)",
            fits["CNN"]["test"]["accuracy"], fits["CNN, average pooling"]["test"]["accuracy"],
            0.05, needs_defaults=True),
        labkit.beats(
            f"Pooling leaves fewer parameters and less overfitting: {len(cfg.flat_filters)} conv "
            f"layers with 2x2 max pools and a flatten head have {fewer:.0f} times fewer "
            "parameters than without the pools, and the gap between their test and training "
            "cross-entropy is smaller by at least 0.04",
            nopool["loss_gap"], pooled["loss_gap"], 0.04, needs_defaults=True,
            accuracy_gap={"pooled": pooled["accuracy_gap"], "no pooling": nopool["accuracy_gap"]},
            params={"pooled": pooled["params"], "no pooling": nopool["params"]}),
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def check_small_cnn(ns: dict) -> dict:
    """small_cnn builds the layers its docstring names (types, output shapes, and the same
    outputs with the same weights), for a fresh input size, maps, classes, pooling and head."""
    rng = np.random.default_rng()
    h, w, c = (int(v) for v in rng.integers((8, 8, 1), (33, 33, 4)))
    filters = tuple(int(v) for v in rng.integers(1, 9, size=int(rng.integers(1, 4))))
    classes = int(rng.integers(2, 12))
    pooling, head = str(rng.choice(["max", "average"])), str(rng.choice(["global", "flatten"]))
    pools = bool(rng.integers(2))
    got = ns["small_cnn"]((h, w, c), filters, classes, pooling=pooling, pools=pools, head=head)
    pool, pool_all = {
        "max": (keras.layers.MaxPooling2D, keras.layers.GlobalMaxPooling2D),
        "average": (keras.layers.AveragePooling2D, keras.layers.GlobalAveragePooling2D),
    }[pooling]
    layers = [keras.Input((h, w, c))]
    for i, maps in enumerate(filters):
        layers += [pool(2)] * (i > 0 and pools)
        layers.append(keras.layers.Conv2D(maps, 3, padding="same", activation="relu"))
    if head == "flatten":
        layers += [pool(2)] * pools + [keras.layers.Flatten()]
    else:
        layers.append(pool_all())
    want = keras.Sequential([*layers, keras.layers.Dense(classes, activation="softmax")])

    def summary(model):  # an activation may be a layer of its own or the layer's own
        skip = (keras.layers.InputLayer, keras.layers.Activation, keras.layers.ReLU)
        return [(type(layer).__name__, tuple(layer.output.shape[1:])) for layer in model.layers
                if not isinstance(layer, skip)]  # fmt: skip

    same = summary(got) == summary(want)
    error = 1e9
    if same:
        want.set_weights(got.get_weights())
        x = rng.random((4, h, w, c)).astype("float32")
        error = float(np.abs(keras.ops.convert_to_numpy(got(x) - want(x))).max())
    setting = f"{(h, w, c)}, maps {filters}, {classes} classes, {pooling}, pools={pools}, {head}"
    return labkit.within(
        f"small_cnn({setting}) has the reference layers, shapes and outputs (largest output "
        "difference at most 1e-5 with the same weights)",
        error, 1e-5, same_layers=same, layers=summary(got), expected=summary(want),
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
