"""
Title: Transfer learning between two digit tasks: reuse a CNN's features, freeze, fine-tune, or learn both at once
Unit: IV
Notes: 000 (Unit III: reusing pretrained layers; Unit IV: CNN architectures), 003 (transfer learning), 004 (data augmentation)
Lesson: A CNN's lower convolutional layers learn general feature detectors: trained on digits
0-4, its frozen lower layers under a new softmax classify digits 5-9 from a few labels per class
better than the same CNN trained from scratch on those labels, on average over several label
draws; fine-tuning the top reused layer keeps that advantage. The features transfer because
both tasks are made of the same strokes: the same CNN trained on digits 0-4 with their pixels
shuffled transfers worse. Freezing is for few labels: with 20 times as many, training every
layer catches up, so the more labelled data, the more layers to train (notes 004's table). And
the two tasks can also be learned at once: one CNN with a head for each task learns digits 5-9
from the same few labels better than it does alone (multi-task learning).
Description: Trains a CNN (LeNet-5, modern form) on task A, the first mnist5k digits 0-4 (real
MNIST, padded to 32x32 by the loader). Task B is the digits 5-9 with only a few labelled
images per class. Which few images are labelled changes the result by several points, so task B
is repeated over several label draws (draw d: the first images of each class in training shard
d, disjoint from the other draws) and the lab compares the means: (1) the same CNN from
scratch, (2) the task-A lower convolutional layers (C1-C3, up to ``c3``) frozen under a new
softmax, the upper, task-specific layers (S4, C5, F6, output) replaced, (3) continuing from
(2), the top reused layer unfrozen and fine-tuned with a tenth of the learning rate, (4) as
(2), from the same CNN trained on task A with every image's pixels in one fixed shuffled order
(same labels, same pixel values, no strokes or edges: a source without task B's low-level
features), (5) multi-task: one CNN with two softmax heads on its shared layers learns task A
and the draw's task B at once, each batch a mix of both (``share_b`` of it task B's few images,
repeated), each head's loss only on its own task's images (Keras sample weights per output).
Then (1) and (2) once more on a larger label set, the first ``many_per_class`` images of each
digit 5-9 over all training shards. Reusing C5 as well (``--reuse-up-to flatten``) shows why
the upper layers are replaced: C5 sees the whole 5x5 map, so it is a task-A specific layer. Task-B training images are augmented on the fly by the loader's augment
hook (Keras RandomRotation, RandomTranslation, RandomZoom). While the setting was chosen
(seeds 0-4), freezing gained 0.06-0.14 over scratch at 5 labels per class and -0.002 to -0.024
at 100; fine-tuning the top one or both reused conv layers moved the accuracy by at most 0.01
at either size, so how deep to fine-tune is shown by the fine-tuned way, not claimed.
reuse_layers is dlcourse.training.transfer's; freezing the reused layers under a new softmax and
unfreezing the top ones are the lab's own (its exercises, checked against transfer.add_head,
freeze and unfreeze_top); all training goes through dlcourse.training.fit; every draw is scored
on the same task-B test split.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from dlcourse import data, labkit, plots
from dlcourse.data.augment import keras_augmenter
from dlcourse.labkit import arg
from dlcourse.models import create_model
from dlcourse.training import fit
from dlcourse.training.transfer import reuse_layers

LAB = labkit.lab_name(__file__)
TASK_A, TASK_B = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)
# The ways to learn task B: from scratch; the reused layers frozen, then fine-tuned; the reused
# layers, frozen, of the same CNN trained on task A with its pixels shuffled; and together with
# task A, in one CNN with a head for each task.
WAYS = ("scratch", "frozen", "fine_tuned", "shuffled_source", "multi_task")


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    model: str = arg("lenet5_modern", "registered CNN trained on task A", check="model")
    epochs_a: int = arg(10, "epochs on task A (digits 0-4)", check="positive")
    n_train_a: int = arg(
        1000, "task-A training digits (the first of mnist5k's digits 0-4)", check="positive"
    )
    per_class_b: int = arg(
        5, "labelled task-B training images per class (digits 5-9; at most 22, the fewest of "
        "one digit 5-9 in a training shard)", check=(1, 22),
    )  # fmt: skip
    draws: int = arg(5, "label draws of task B (one per training shard, at most 11)", check=(1, 11))
    epochs_b: int = arg(
        20, "epochs of task B from scratch and of the frozen stage", check="positive"
    )
    epochs_fine: int = arg(10, "epochs of the fine-tuning stage", check="positive")
    reuse_up_to: str = arg(
        "c3", "last reused layer of the task-A model (c3: the lower conv layers C1-C3)"
    )
    unfreeze: int = arg(1, "top reused weight layers fine-tuned in stage 3", check="non_negative")
    learning_rate: float = arg(
        2e-3, "Adam learning rate (fine-tuning uses a tenth)", check="positive"
    )
    batch_size: int = arg(32, "mini-batch size", check="positive")
    many_per_class: int = arg(
        100, "labelled task-B images per class of the larger label set (all training shards)",
        check=(1, 350),
    )  # fmt: skip
    share_b: float = arg(
        0.2, "multi-task run: the share of task-B images in its batches", check=(0, 1, "()")
    )
    augment: bool = arg(True, "augment task-B training images (rotation, shift, zoom)")
    margin: float = arg(0.04, "claimed mean gain of the reused layers over scratch", check=(0, 1))

    QUICK = labkit.quick(
        epochs_a=1, epochs_b=2, epochs_fine=1, n_train_a=128, draws=2, many_per_class=10
    )  # a smoke test


def label_draw(cfg: Config, draw: int | None):
    """Task B's labelled training images of one draw: the first ``per_class_b`` images of each
    digit 5-9 in training shard ``draw`` (the loader, padded to 32x32, augmented); ``None``:
    the first ``many_per_class`` of each digit in all the training shards."""
    aug = keras_augmenter(rotate=10, shift=0.1, zoom=0.1, seed=cfg.seed) if cfg.augment else None
    shards, per_class = (
        ("*", cfg.many_per_class) if draw is None else (f"{draw:05d}-*", cfg.per_class_b)
    )
    pattern = data.file_pattern("mnist5k", "train", "tfrecord").replace("*", shards)
    features = data.Features.from_manifest(data.files.ensure("mnist5k"))
    return data.from_files(pattern, features, format="tfrecord", batch_size=cfg.batch_size,
                           classes=TASK_B, per_class=per_class, augment=aug, cache=True,
                           preprocess=data.pad_images(32), seed=cfg.seed + (draw or 0))  # fmt: skip


def shuffle_pixels(permutation: tf.Tensor):
    """A tf.data map putting every image's pixels in the same fixed order ``permutation``: the
    digits keep their labels and their pixel values but lose their strokes and edges."""

    def shuffle(x, y):
        flat = tf.reshape(x, (tf.shape(x)[0], -1))  # (batch, pixels)
        return tf.reshape(tf.gather(flat, permutation, axis=1), tf.shape(x)), y

    return shuffle


def one_task(ds, task: str):
    """The examples of ``ds`` (batches of ``(x, y)``) for a two-headed model: labels and sample
    weights per head, the other head's label a placeholder of weight 0 (it learns nothing)."""
    other = {"a": "b", "b": "a"}[task]
    return ds.unbatch().map(lambda x, y: (x, {task: y, other: tf.zeros_like(y)},
                                          {task: 1.0, other: 0.0}))  # fmt: skip


def two_task_cnn(cfg: Config) -> keras.Model:
    """The CNN with two softmax heads on its shared layers (up to F6): ``"a"`` for digits 0-4
    and ``"b"`` for digits 5-9, each with its own loss."""
    cnn = create_model(cfg.model, input_shape=(32, 32, 1), classes=len(TASK_A))
    shared = cnn.layers[-2].output
    heads = {t: keras.layers.Dense(5, activation="softmax", name=t)(shared) for t in ("a", "b")}
    model = keras.Model(cnn.inputs, heads, name="two_tasks")
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss={t: "sparse_categorical_crossentropy" for t in heads})  # fmt: skip
    return model


def compiled(model: keras.Model, lr: float) -> keras.Model:
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    return model


def frozen_under_new_head(base: keras.Model, classes: int) -> keras.Model:
    """``base`` frozen, under a new softmax: the reused layers keep their weights while only
    the new head learns the new task."""
    # Freeze every layer of `base` (layer.trainable = False), flatten its output if it is a
    # feature map, put a new Dense(classes, softmax) on it and return the keras.Model from
    # base's inputs to that softmax.
    ### BEGIN SOLUTION
    for layer in base.layers:
        layer.trainable = False
    x = base.output
    if len(x.shape) > 2:  # a feature map (batch, h, w, maps) -> (batch, h * w * maps)
        x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="new_task_output")(x)
    return keras.Model(base.inputs, outputs, name="new_task")
    ### END SOLUTION


def unfreeze_top(model: keras.Model, k: int) -> keras.Model:
    """Make the top ``k`` layers with weights of ``model`` trainable again (recompile after)."""
    # The layers with weights (layer.weights not empty), bottom to top: set the top k of them
    # trainable (k = 0: none).
    ### BEGIN SOLUTION
    weighted = [layer for layer in model.layers if layer.weights]
    for layer in weighted[len(weighted) - k :]:
        layer.trainable = True
    ### END SOLUTION
    return model


def task_b(cfg: Config, sources: dict, train, test, ways=WAYS) -> dict[str, float]:
    """One label set: the task-B test accuracy of each way (``WAYS``); ``sources`` holds the
    task-A CNNs, ``"digits"`` and ``"shuffled"``, and task A's training data, ``"a_train"``."""
    base = None

    def scratch():
        model = create_model(cfg.model, input_shape=(32, 32, 1), classes=len(TASK_B))
        return compiled(model, cfg.learning_rate)

    def frozen(source):  # the lower conv layers, frozen, under a new softmax
        nonlocal base
        base = reuse_layers(sources[source], n_layers=cfg.reuse_up_to)  # a fresh clone
        return compiled(frozen_under_new_head(base, len(TASK_B)), cfg.learning_rate)

    def fine_tuned():  # continues from `frozen`: the top reused layers learn again, slowly
        unfreeze_top(base, cfg.unfreeze)
        return compiled(model_b, cfg.learning_rate / 10)

    builds = {"scratch": scratch, "frozen": lambda: frozen("digits"), "fine_tuned": fine_tuned,
              "shuffled_source": lambda: frozen("shuffled")}  # fmt: skip
    acc = {}
    for way in ways:
        if way == "multi_task":
            acc[way] = multi_task(cfg, sources["a_train"], train, test)
            continue
        epochs = cfg.epochs_fine if way == "fine_tuned" else cfg.epochs_b
        model_b, _ = fit(builds[way], train, epochs=epochs, cfg=cfg, verbose=0)
        acc[way] = float(model_b.evaluate(test, verbose=0)[1])
    return acc


def multi_task(cfg: Config, a_train, b_train, test) -> float:
    """Tasks A and B learned at once by one two-headed CNN, for as many epochs as task A alone:
    every batch mixes task-A images and, a ``share_b`` of it, task B's few (repeated) images.
    Returns head B's test accuracy."""
    mixed = tf.data.Dataset.sample_from_datasets(
        [one_task(a_train, "a"), one_task(b_train, "b").repeat()],
        weights=[1 - cfg.share_b, cfg.share_b], seed=cfg.seed, stop_on_empty_dataset=True,
    ).batch(cfg.batch_size)  # fmt: skip
    model, _ = fit(lambda: two_task_cnn(cfg), mixed, epochs=cfg.epochs_a, cfg=cfg, verbose=0)
    head_b = keras.Model(model.inputs, model.output["b"])
    head_b.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return float(head_b.evaluate(test, verbose=0)[1])


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: task A (digits 0-4) from the loader; task B's validation and test splits
    # (digits 5-9, relabelled 0-4). Task B's few labelled images come per draw, below.
    kw = {"batch_size": cfg.batch_size, "pad_to": 32, "seed": cfg.seed}
    a = data.datasets("mnist5k", classes=TASK_A, take=cfg.n_train_a, **kw)
    b_test = data.datasets("mnist5k", classes=TASK_B, splits=("test",), **kw)["test"]

    # Task A: train the source CNN on plenty of labels.
    def source():
        model = create_model(cfg.model, input_shape=(32, 32, 1), classes=len(TASK_A))
        return compiled(model, cfg.learning_rate)

    model_a, _ = fit(source, a["train"], validation=a["val"], epochs=cfg.epochs_a, cfg=cfg,
                     folder=None if cfg.quick else out / "task_a", verbose=0)  # fmt: skip
    acc_a = float(model_a.evaluate(a["test"], verbose=0)[1])

    # The same CNN on the same task A, its pixels shuffled (one fixed order for every image):
    # the labels are as learnable, but there are no strokes for its lower layers to detect.
    perm = tf.constant(np.random.default_rng(cfg.seed).permutation(32 * 32))
    shuffled = {k: a[k].map(shuffle_pixels(perm)) for k in ("train", "val", "test")}
    model_s, _ = fit(source, shuffled["train"], validation=shuffled["val"], epochs=cfg.epochs_a,
                     cfg=cfg, folder=None if cfg.quick else out / "task_a_shuffled", verbose=0)  # fmt: skip
    acc_s = float(model_s.evaluate(shuffled["test"], verbose=0)[1])
    sources = {"digits": model_a, "shuffled": model_s, "a_train": a["train"]}

    # Task B, repeated over label draws: from scratch, the reused lower layers frozen, then
    # fine-tuned, the shuffled-pixel CNN's lower layers frozen, and both tasks in one CNN. One
    # draw's few images decide a lot, so the lesson rests on the mean.
    per_draw = {way: [] for way in WAYS}
    for draw in range(cfg.draws):
        keras.utils.set_random_seed(cfg.seed + draw)
        acc = task_b(cfg, sources, label_draw(cfg, draw), b_test)
        print(f"draw {draw}: " + ", ".join(f"{w} {acc[w]:.3f}" for w in WAYS), flush=True)
        for way in WAYS:
            per_draw[way].append(acc[way])
    summary = {
        way: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
              "draws": v}
        for way, v in per_draw.items()
    }  # fmt: skip
    wins = sum(f > s for f, s in zip(per_draw["frozen"], per_draw["scratch"], strict=True))

    # Many labels: the first `many_per_class` images of each digit 5-9, from scratch and with
    # the reused layers frozen. Does freezing still pay when labels are plentiful?
    keras.utils.set_random_seed(cfg.seed + cfg.draws)
    many = task_b(cfg, sources, label_draw(cfg, None), b_test, ways=("scratch", "frozen"))
    gain = {"few": summary["frozen"]["mean"] - summary["scratch"]["mean"],
            "many": many["frozen"] - many["scratch"]}  # fmt: skip
    print(f"{cfg.many_per_class} labels per class: scratch {many['scratch']:.3f}, "
          f"frozen {many['frozen']:.3f}", flush=True)  # fmt: skip

    # Plot: each way's task-B test accuracy on every draw, with its mean and sd in the legend.
    labels = {"scratch": "from scratch", "frozen": "lower layers reused, frozen",
              "fine_tuned": "reused, then fine-tuned",
              "shuffled_source": "reused from shuffled pixels, frozen",
              "multi_task": "learned together with task A"}  # fmt: skip
    curves = {f"{labels[w]} ({s['mean']:.3f} ± {s['sd']:.3f})": s["draws"]
              for w, s in summary.items()}  # fmt: skip
    plots.save(plots.curves(curves, xlabel="label draw", ylabel="task B test accuracy",
                            title=f"Transfer, {cfg.per_class_b} labels per digit 5-9"),
               out, "transfer")  # fmt: skip
    sizes = {"few": f"{cfg.per_class_b} labels per class (mean of {cfg.draws} draws)",
             "many": f"{cfg.many_per_class} labels per class"}  # fmt: skip
    plots.save(plots.bars({sizes[k]: g for k, g in gain.items()},
                          ylabel="frozen minus scratch, task B test accuracy",
                          title="What freezing the reused layers gains"), out, "freezing_gain")  # fmt: skip

    # The claims: reusing the lower layers pays on average, and on most draws; fine-tuning keeps it.
    n = cfg.draws
    claims = [
        labkit.beats(
            f"With {cfg.per_class_b} labels per class, the frozen lower conv layers of task A beat "
            f"the same CNN from scratch by at least {cfg.margin:.2f} (mean of {n} draws)",
            summary["frozen"]["mean"], summary["scratch"]["mean"], cfg.margin,
            needs_defaults=True),
        labkit.at_least(
            f"The frozen lower layers beat scratch on at least {n - 1} of {n} label draws",
            wins, n - 1, needs_defaults=True),
        labkit.beats(
            "Fine-tuning the top reused layer also beats scratch by that margin (mean of the draws)",
            summary["fine_tuned"]["mean"], summary["scratch"]["mean"], cfg.margin,
            needs_defaults=True),
        labkit.beats(
            "Transfer needs similar low-level features: the frozen lower layers of the CNN "
            "trained on digits 0-4 beat those of the same CNN trained on them with shuffled "
            f"pixels by at least 0.02 (mean of {n} draws)",
            summary["frozen"]["mean"], summary["shuffled_source"]["mean"], 0.02,
            needs_defaults=True),
        labkit.beats(
            "How many layers to train depends on the labelled data: freezing the reused layers "
            f"gains at least 0.03 less over scratch with {cfg.many_per_class} labels per class "
            f"than with {cfg.per_class_b}",
            gain["few"], gain["many"], 0.03, needs_defaults=True),
        labkit.beats(
            "Multi-task learning: one CNN learning digits 0-4 and 5-9 at once, a head for each, "
            "beats the same CNN on digits 5-9 alone by at least 0.03 on 5-9 (mean of "
            f"{n} draws)",
            summary["multi_task"]["mean"], summary["scratch"]["mean"], 0.03, needs_defaults=True),
    ]  # fmt: skip
    metrics = {
        "seed": cfg.seed,
        "task_a_test_accuracy": acc_a,
        "task_a_shuffled_test_accuracy": acc_s,
        "task_b_labels_per_class": cfg.per_class_b,
        "task_b_test_accuracy": summary,
        "frozen_wins": wins,
        "many_labels": {"per_class": cfg.many_per_class, **many},
        "freezing_gain": gain,
        "claims": claims,
    }
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def check_frozen_under_new_head(ns: dict) -> dict:
    """frozen_under_new_head freezes a fresh CNN's lower layers under a new softmax, like the
    library's transfer.add_head(transfer.freeze(base))."""
    import warnings

    from dlcourse.training import transfer

    rng = np.random.default_rng()
    side, maps = int(rng.integers(8, 13)), [int(m) for m in rng.integers(2, 6, size=2)]
    model_a = keras.Sequential([
        keras.Input((side, side, int(rng.integers(1, 4)))),
        keras.layers.Conv2D(maps[0], 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(maps[1], 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(int(rng.integers(3, 9)), activation="relu"),
        keras.layers.Dense(4, activation="softmax"),
    ])  # fmt: skip
    n_layers, classes = int(rng.integers(1, 4)), int(rng.integers(2, 7))
    got = ns["frozen_under_new_head"](transfer.reuse_layers(model_a, n_layers), classes)
    want = transfer.add_head(transfer.freeze(transfer.reuse_layers(model_a, n_layers)), classes)
    shapes = [tuple(w.shape) for w in got.weights] == [tuple(w.shape) for w in want.weights]
    trainable = transfer.n_trainable(got)
    x = rng.random((3, *model_a.input_shape[1:]))
    with warnings.catch_warnings():  # Keras: inputs given as a tensor, not as a list of one
        warnings.simplefilter("ignore")
        probs = np.asarray(got(x))
    softmax = probs.shape == (3, classes) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    return labkit.claim(
        f"frozen_under_new_head freezes the {n_layers} reused layers of a fresh CNN and trains "
        f"only a new {classes}-way softmax",
        shapes and softmax and trainable == transfer.n_trainable(want),
        same_shapes_as_library=shapes, softmax_output=softmax, trainable_params=trainable,
        expected_trainable_params=transfer.n_trainable(want),
    )  # fmt: skip


def check_unfreeze_top(ns: dict) -> dict:
    """unfreeze_top makes the same layers trainable as the library's, on a fresh frozen CNN."""
    from dlcourse.training import transfer

    rng = np.random.default_rng()
    n = int(rng.integers(2, 6))  # weight layers, with a weightless Dropout after the first
    layers = [keras.layers.Dense(int(w), activation="relu") for w in rng.integers(2, 6, size=n)]
    model_a = keras.Sequential([keras.Input((int(rng.integers(2, 6)),)), layers[0],
                                keras.layers.Dropout(0.1), *layers[1:]])  # fmt: skip

    def trainable(unfreeze, k):  # which layers of A, all frozen first, are trainable after it
        return [layer.trainable for layer in unfreeze(transfer.freeze(model_a), k).layers]

    got = {k: trainable(ns["unfreeze_top"], k) for k in range(n + 1)}
    want = {k: trainable(transfer.unfreeze_top, k) for k in range(n + 1)}
    return labkit.claim(
        f"unfreeze_top(k) makes the top k of {n} weight layers of a frozen network trainable "
        f"again, and only those, for every k in 0..{n}",
        got == want, trainable=got, expected=want,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
