"""
Title: Unsupervised pretraining with stacked autoencoders: where it helps, and why it faded
Unit: III
Notes: 000 (Unit III: unsupervised pretraining, reusing layers)
Description: Pretrains a stack of sigmoid autoencoders greedily, one hidden layer at a time, on
all mnist5k training digits without their labels (the loader's training split, labels never
read), then puts a softmax on top and fine-tunes the whole network with plain SGD on only a few
labels per class. Compares it with the same network (same layers, same optimizer) trained from
scratch on those labels, and with a modern network of the same sizes trained from scratch: ReLU,
He initialization and Adam. The few-label part is repeated over several disjoint label draws and
compared on the mean, with the spread of the draws shown.
Lesson: Greedy layer-wise pretraining rescues a deep sigmoid network trained with plain SGD,
which from scratch stays at chance; a modern ReLU network with He initialization and Adam
trains from scratch too and comes within a few points of it, which is why pretraining faded.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, mlp
from dlcourse.training import pretraining
from dlcourse.training.variants import label_draws, train_variants

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    hidden: tuple = arg((256, 128, 64, 32, 16), "hidden units, bottom to top", check="positive")
    per_class: int = arg(10, "labelled examples per class", check="positive")
    draws: int = arg(3, "disjoint label draws (claims use the mean)", check="positive")
    pretrain_epochs: int = arg(15, "epochs of each autoencoder stage", check="positive")
    finetune_epochs: int = arg(25, "epochs of supervised training per draw", check="positive")
    batch_size: int = arg(10, "mini-batch size of supervised training", check="positive")
    pretrain_batch_size: int = arg(64, "mini-batch size of the autoencoders", check="positive")
    sgd_learning_rate: float = arg(1.0, "plain SGD rate of the sigmoid networks", check="positive")
    adam_learning_rate: float = arg(1e-3, "Adam rate of the ReLU network", check="positive")

    QUICK = labkit.quick(hidden=(64, 32), pretrain_epochs=1, finetune_epochs=1, draws=1)


def pretrained_classifier(shape, encoders, classes: int, optimizer) -> keras.Model:
    """The deep sigmoid network of the encoders' sizes, its hidden layers started from the
    pretrained encoders (copies), under a fresh softmax, compiled for fine-tuning."""
    model = mlp(hidden=[enc.units for enc in encoders], activation="sigmoid",
                input_shape=shape, classes=classes)  # fmt: skip
    # Start hidden layer i (named f"hidden{i}", from 1) from encoder i's weights: copy them
    # (get_weights / set_weights), so fine-tuning leaves the pretrained stack as it was.
    ### BEGIN SOLUTION
    for i, enc in enumerate(encoders, 1):
        model.get_layer(f"hidden{i}").set_weights(enc.get_weights())
    ### END SOLUTION
    return compile_classifier(model, optimizer)


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data, all from the loader: every training digit for pretraining (its labels are
    # never read), disjoint draws of a few labelled digits per class for fine-tuning, and the
    # test split to score every draw on the same digits.
    unlabeled = data.datasets(
        "mnist5k", batch_size=cfg.pretrain_batch_size, splits=("train",), seed=cfg.seed
    )["train"]
    test = data.datasets("mnist5k", splits=("test",))["test"]
    draws = label_draws("mnist5k", classes=tuple(range(10)), per_class=cfg.per_class,
                        draws=cfg.draws, batch_size=cfg.batch_size, seed=cfg.seed)  # fmt: skip
    hidden = tuple(int(h) for h in cfg.hidden)
    shape = test.element_spec[0].shape[1:]  # (28, 28, 1), x in [0, 1] (scaled by the loader)

    # Greedy layer-wise pretraining: one sigmoid autoencoder per hidden layer, each on the
    # codes of the encoders trained before it.
    encoders, ae_losses = pretraining.pretrain_stack(
        unlabeled, hidden, activation="sigmoid", epochs=cfg.pretrain_epochs, cfg=cfg, verbose=2
    )
    plots.save(
        plots.curves(
            {f"stage {i + 1} ({h} units)": ls for i, (h, ls) in enumerate(zip(hidden, ae_losses))},
            ylabel="reconstruction MSE",
            title="Greedy layer-wise pretraining",
        ),
        out,
        "autoencoder_loss",
    )

    # Three classifiers of the same sizes, trained on every label draw: the sigmoid network
    # from scratch and pretrained (both with plain SGD), and a ReLU network with He
    # initialization and Adam from scratch.
    def sgd():
        return keras.optimizers.SGD(cfg.sgd_learning_rate)

    def sigmoid_scratch():
        model = mlp(hidden=hidden, activation="sigmoid", input_shape=shape, classes=10)
        return compile_classifier(model, sgd())

    def modern():
        model = mlp(hidden=hidden, activation="relu", kernel_initializer="he_normal",
                    input_shape=shape, classes=10)  # fmt: skip
        return compile_classifier(model, keras.optimizers.Adam(cfg.adam_learning_rate))

    builds = {
        "sigmoid + SGD, from scratch": sigmoid_scratch,
        "sigmoid + SGD, pretrained": lambda: pretrained_classifier(shape, encoders, 10, sgd()),
        "ReLU + He + Adam, from scratch": modern,
    }
    acc = {k: [] for k in builds}
    for r, train in enumerate(draws):
        print(f"=== label draw {r + 1} of {cfg.draws}", flush=True)
        models, _ = train_variants(
            builds, train, None, epochs=cfg.finetune_epochs, cfg=cfg, folder=None
        )
        for k, m in models.items():
            acc[k].append(round(float(m.evaluate(test, verbose=0)[1]), 4))
    mean = {k: round(float(np.mean(v)), 4) for k, v in acc.items()}
    sd = {k: round(float(np.std(v)), 4) for k, v in acc.items()}

    # Results: test accuracy of each network on every draw (the spread) and their means.
    plots.save(
        plots.curves(acc, xlabel="label draw", ylabel="test accuracy",
                     title=f"{cfg.per_class} labels per class, {cfg.draws} draws"),
        out,
        "test_accuracy_per_draw",
    )  # fmt: skip
    plots.save(
        plots.bars(mean, title=f"Mean of {cfg.draws} label draws", ylabel="test accuracy"),
        out,
        "test_accuracy_mean",
    )
    metrics = {
        "n_unlabeled": len(data.arrays(unlabeled)[1]),
        "n_labeled_per_draw": cfg.per_class * 10,
        "test_accuracy_per_draw": acc,
        "test_accuracy_mean": mean,
        "test_accuracy_sd": sd,
        "final_reconstruction_mse": [round(ls[-1], 5) for ls in ae_losses],
    }

    # The claims: pretraining rescues the deep sigmoid network (against the same network from
    # scratch), and the modern network from scratch comes at least close to it (means).
    scratch, pre, relu = (mean[k] for k in builds)
    metrics["claims"] = [
        labkit.beats(
            "Greedy layer-wise pretraining lifts the deep sigmoid network trained with plain "
            "SGD at least 30 points above the same network from scratch (mean test accuracy)",
            pre, scratch, 0.30, needs_defaults=True, sd=sd,
        ),
        labkit.beats(
            "A ReLU network with He initialization and Adam trains from scratch too: it beats "
            "the sigmoid network from scratch by at least 30 points (mean test accuracy)",
            relu, scratch, 0.30, needs_defaults=True, sd=sd,
        ),
        labkit.at_least(
            "A ReLU network with He initialization and Adam, from scratch, comes within 8 "
            "points of the pretrained sigmoid network or beats it (mean test accuracy)",
            relu, round(pre - 0.08, 4), needs_defaults=True, sd=sd,
        ),
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def check_pretrained_classifier(ns: dict) -> dict:
    """pretrained_classifier copies fresh random encoders like the library's stacked_classifier."""
    rng = np.random.default_rng()
    shape = (int(rng.integers(3, 7)), int(rng.integers(3, 7)), 1)
    sizes = [int(h) for h in rng.integers(2, 9, size=int(rng.integers(1, 4)))]
    encoders, n_in = [], int(np.prod(shape))
    for h in sizes:  # trained encoders stand-ins: Dense layers with random weights
        enc = keras.layers.Dense(h, activation="sigmoid")
        enc.build((None, n_in))
        enc.set_weights([rng.normal(size=(n_in, h)), rng.normal(size=h)])
        encoders.append(enc)
        n_in = h
    before = [w for enc in encoders for w in enc.get_weights()]
    classes = int(rng.integers(2, 6))
    got = ns["pretrained_classifier"](shape, encoders, classes, keras.optimizers.SGD(0.1))
    want = pretraining.stacked_classifier(shape, encoders, classes, optimizer="sgd")
    hidden = [w.numpy() for w in got.weights][: 2 * len(sizes)]
    copied = len(hidden) == len(before) and all(
        a.shape == b.shape and np.allclose(a, b) for a, b in zip(hidden, before)
    )
    for w in got.weights:  # the copies are the model's own: the encoders must not move
        w.assign(w + 1.0)
    kept = all(np.allclose(a, b) for a, b in
               zip([w for enc in encoders for w in enc.get_weights()], before))  # fmt: skip
    shapes = [tuple(w.shape) for w in got.weights] == [tuple(w.shape) for w in want.weights]
    return labkit.claim(
        f"pretrained_classifier starts its {len(sizes)} hidden layers from copies of the "
        f"encoders' weights under a {classes}-way softmax (fresh random encoders {sizes})",
        copied and kept and shapes,
        weights_copied=copied, encoders_unchanged=kept, same_shapes_as_library=shapes,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
