"""
Title: Every builder summarized: parameters, output shapes, multiply-adds
Unit: IV
Notes: 000 (Unit IV: memory requirements, LeNet-5 and AlexNet tables, GoogLeNet's bottleneck
layers and global average pooling), 002 (1x1 convolutions, classic networks summary: parameter
counts)
Lesson: A CNN's size follows from its layer shapes alone: counting each layer's weights and
multiply-adds from the builders' output shapes reproduces the published parameter counts of
every reference model (keras.applications, torchvision, the papers and the notes' tables),
without allocating a single weight. The same counts show why GoogLeNet is cheap: a 1x1
bottleneck cuts a 5x5 convolution's multiplications almost tenfold, and global average pooling
needs 49 times fewer classifier weights than flattening its 7x7 feature maps.
Description: Builds every registered model at its paper size (shapes only: the weights are
never allocated, and nothing is trained) and writes, per
model, a layer table (output shape, parameters, multiply-adds per instance) and an overview
table, checking each parameter count against its reference (keras.applications for VGG-16 and
ResNet-50/101/152, torchvision/the paper for ResNet-18/34, the notes' tables for LeNet-5 and
AlexNet). One figure: parameters vs multiply-adds, log-log. GoogLeNet's savings, counted on
its own builder's shapes: the inception (3a) 5x5 branch (28x28x192 input, 32 maps) with and
without its 1x1 reduction to 16 maps (about 120M against 12.4M multiplications, the figures
usually quoted for it), and its global-average-pooling head against a flatten + dense head on
the same 7x7x1024 feature map.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import labkit, notes_examples, plots
from dlcourse.labkit import arg
from dlcourse.models import create_model, list_models, model_family
from dlcourse.models.googlenet import SPEC as GOOGLENET_SPEC
from dlcourse.models.summary import (
    bottleneck_savings,
    head_params,
    layer_macs,
    shapes_only,
    summary_table,
    total_macs,
)
from dlcourse.utils import atomic_path

LAB = labkit.lab_name(__file__)
# name -> (reference parameter count, what it counts, where it comes from)
REFERENCES = {
    "lenet5": (60_840, "all", "notes Table 13-1 with the paper's C3 table and RBF output"),
    "lenet5_modern": (61_706, "all", "LeNet-5 with dense softmax output (widely quoted)"),
    "alexnet": (62_378_344, "all", "the paper's layers, one tower (groups=2: 60,965,224)"),
    "vgg16": (138_357_544, "all", "keras.applications.VGG16"),
    "resnet18": (11_689_512, "trainable", "torchvision resnet18"),
    "resnet34": (21_797_672, "trainable", "torchvision resnet34 (paper: 21.8M)"),
    "resnet50": (25_636_712, "all", "keras.applications.ResNet50"),
    "resnet101": (44_707_176, "all", "keras.applications.ResNet101"),
    "resnet152": (60_419_944, "all", "keras.applications.ResNet152"),
}
# --small (quick mode): small versions (width/input knobs) of a few builders.
SMALL = {
    "lenet5": {},
    "small_cnn": {},
    "vgg16": {"input_shape": (32, 32, 3), "width": 1 / 16},
    "resnet50": {"input_shape": (32, 32, 3), "width": 1 / 16},
}


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    models: tuple = arg((), "models to summarize (empty: every registered model)", check="model")
    classes: int = arg(
        1000, "classes of the ImageNet-size builders (digit nets keep 10)", check="positive"
    )
    small: bool = arg(False, "summarize small versions of four builders instead (fast)")

    QUICK = labkit.quick(small=True)


def count(model, what: str) -> int:
    """All parameters (Keras counts BN moving statistics too) or only the trainable ones."""
    if what == "trainable":
        return sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return model.count_params()


def conv_counts(
    input_shape: tuple,
    filters: int,
    kernel_size: tuple,
    strides: tuple = (1, 1),
    padding: str = "valid",
    use_bias: bool = True,
) -> tuple[int, int]:
    """Parameters and multiply-adds (per instance) of a ``Conv2D(filters, kernel_size,
    strides, padding, use_bias)`` layer on a ``(height, width, channels)`` input, from these
    numbers alone (notes 000, "Memory Requirements")."""
    (h, w, c_in), (kh, kw), (sh, sw) = input_shape, kernel_size, strides
    # params: kh * kw * c_in weights per filter, plus one bias per filter if use_bias.
    # Output side: ceil(n / s) for "same", (n - k) // s + 1 for "valid"; macs (multiply-adds):
    # each of the h_out * w_out * filters outputs takes kh * kw * c_in of them.
    ### BEGIN SOLUTION
    params = kh * kw * c_in * filters + (filters if use_bias else 0)
    if padding == "same":
        h_out, w_out = -(-h // sh), -(-w // sw)
    else:
        h_out, w_out = (h - kh) // sh + 1, (w - kw) // sw + 1
    macs = h_out * w_out * kh * kw * c_in * filters
    ### END SOLUTION
    return params, macs


def convs_by_hand(model) -> dict:
    """Each (ungrouped) Conv2D layer of ``model`` counted by conv_counts from its input shape
    and settings, against Keras's parameter count and the multiply-adds of its output shape."""
    convs = matching = 0
    for layer in model.layers:
        if type(layer) is not keras.layers.Conv2D or layer.groups != 1:
            continue
        shape = tuple(layer.input.shape[1:])  # (height, width, channels)
        ours = conv_counts(shape, layer.filters, layer.kernel_size, layer.strides,
                           layer.padding, layer.use_bias)  # fmt: skip
        convs, matching = convs + 1, matching + (ours == (layer.count_params(), layer_macs(layer)))
    return {"conv_layers": convs, "conv_layers_matching_keras": matching}


def summarize_one(name: str, kwargs: dict) -> tuple[dict, str]:
    """One builder's counts (checked against the reference, if any) and its summary table."""
    model = shapes_only(create_model, name, **kwargs)  # RSS stays < 1 GB even for AlexNet
    row = {
        "family": model_family(name),
        "params": model.count_params(),
        "trainable_params": count(model, "trainable"),
        "macs": total_macs(model),
        "layers": len(model.layers),
        "output_shape": list(model.output_shape[1:]),
        **convs_by_hand(model),  # the conv layers counted by the lab's formula
    }
    if name in REFERENCES and not kwargs.get("width"):
        ref, what, source = REFERENCES[name]
        row.update(reference=ref, reference_counts=what, reference_source=source,
                   matches_reference=count(model, what) == ref)  # fmt: skip
    return row, f"### {name}\n\n{summary_table(model)}\n"


def googlenet_savings(classes: int) -> dict:
    """GoogLeNet's two economies, on the shapes its builder gives at paper size: the 1x1
    bottleneck of inception (3a)'s 5x5 branch and the global-average-pooling head."""
    model = shapes_only(create_model, "googlenet", classes=classes)
    modules = dict(item for item in GOOGLENET_SPEC if item != "M")  # name -> channels
    _, _, _, reduce, filters, _ = modules["3a"]  # #5x5 reduce 16, #5x5 32
    branch_in = tuple(model.get_layer("inception_3a_5x5_reduce").input.shape[1:])  # 28x28x192
    features = tuple(model.get_layer("avg_pool").input.shape[1:])  # 7x7x1024
    costs = bottleneck_savings(branch_in, filters=filters, kernel=5, reduce=reduce)
    heads = head_params(features, classes)
    return {
        "bottleneck": {"input_shape": list(branch_in), "reduce": reduce, "filters": filters,
                       **costs, "macs_ratio": round(costs["direct_macs"] / costs["bottleneck_macs"], 2)},
        "gap_head": {"feature_shape": list(features), "classes": classes, **heads,
                     "params_ratio": round(heads["flatten_dense"] / heads["gap_dense"], 2)},
    }  # fmt: skip


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # What to build: every registered model at paper size, or a few small ones.
    if cfg.small:
        plan = SMALL
    else:
        names = cfg.models or tuple(list_models())
        plan = {n: {} if model_family(n) in ("lenet", "small_cnn", "mlp") else
                {"classes": cfg.classes} for n in names}  # fmt: skip

    # Each model built on shapes only (no weights allocated), counted and summarized.
    rows, sections = {}, []
    for name, kwargs in plan.items():
        rows[name], text = summarize_one(name, kwargs)
        sections.append(text)
        print(f"{name}: {rows[name]['params']:,} params, {rows[name]['macs']:,} MACs", flush=True)

    # The overview table, the per-model summaries and a params-vs-MACs plot.
    overview = ["| model | params | MACs | layers | reference | matches |",
                "|---|---:|---:|---:|---|---|"]  # fmt: skip
    for n, r in rows.items():
        ref = f"{r['reference']:,} ({r['reference_source']})" if "reference" in r else ""
        overview.append(f"| {n} | {r['params']:,} | {r['macs']:,} | {r['layers']} | {ref} | "
                        f"{r.get('matches_reference', '')} |")  # fmt: skip
    with atomic_path(out / "summaries.md") as tmp:
        tmp.write_text("\n".join(overview) + "\n\n" + "\n".join(sections))
    fig = plots.labelled_scatter(
        {n: (r["params"], r["macs"]) for n, r in rows.items() if r["macs"]}, logx=True,
        logy=True, xlabel="parameters", ylabel="multiply-adds per image",
        title="Small builders" if cfg.small else "Builders at paper size",
    )  # fmt: skip
    plots.save(fig, out, "params_vs_macs")
    checked = [r["matches_reference"] for r in rows.values() if "matches_reference" in r]
    metrics = {"models": rows, "references_checked": len(checked),
               "references_matched": sum(checked)}  # fmt: skip

    # The notes' depth rule (000/002): which layers the papers count.
    metrics["paper_depth"] = notes_examples.depth_examples()

    # GoogLeNet's savings (notes 000): the 1x1 bottleneck and global average pooling, counted
    # on the shapes of its builder at paper size (no weights allocated here either).
    metrics["googlenet_savings"] = saving = googlenet_savings(cfg.classes)
    neck, head = saving["bottleneck"], saving["gap_head"]

    # The claims: every builder with a reference count matches it exactly; GoogLeNet's
    # bottleneck and pooling save what the notes say.
    expected = [n for n, kw in plan.items() if n in REFERENCES and not kw.get("width")]
    metrics["claims"] = [
        labkit.claim(
            f"Parameter counts match {sum(checked)} of {len(expected)} references "
            "(keras.applications, torchvision, the papers, the notes' tables) exactly",
            bool(expected) and sum(checked) == len(expected),
            matched=sum(checked), references=len(expected)),
        labkit.at_least(
            "A 1x1 bottleneck to 16 maps before GoogLeNet's inception (3a) 5x5 convolution "
            "(28x28x192 -> 32 maps) cuts its multiplications at least 9 times",
            neck["macs_ratio"], 9.0, direct=neck["direct_macs"],
            bottleneck=neck["bottleneck_macs"]),
        labkit.within(
            "Counted from the Keras layers, that 5x5 convolution costs about 120M "
            "multiplications and the bottlenecked pair about 12.4M (largest relative error "
            "at most 1%)",
            max(abs(neck["direct_macs"] / 120e6 - 1), abs(neck["bottleneck_macs"] / 12.4e6 - 1)),
            0.01),
        labkit.at_least(
            "GoogLeNet's global-average-pooling head has at least 40 times fewer parameters "
            "than a flatten + dense head on the same 7x7x1024 feature maps",
            head["params_ratio"], 40.0, gap=head["gap_dense"], flatten=head["flatten_dense"]),
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def check_conv_counts(ns: dict) -> dict:
    """conv_counts gives Keras's parameters and multiply-adds of fresh Conv2D layers."""
    rng = np.random.default_rng()
    wrong = []
    for trial in range(12):  # VALID and SAME, with and without a bias
        h, w, c, filters = (int(v) for v in rng.integers((7, 7, 1, 1), (41, 41, 65, 65)))
        kernel = tuple(int(v) for v in rng.integers(1, 8, size=2))  # up to 7x7, rectangular
        strides = tuple(int(v) for v in rng.integers(1, 4, size=2))
        padding, use_bias = ("valid", "same")[trial % 2], trial % 3 != 2
        layer = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                                    use_bias=use_bias)  # fmt: skip
        layer(keras.Input((h, w, c)))  # built: its weights and output shape
        want = (layer.count_params(), layer_macs(layer))
        got = tuple(int(v) for v in ns["conv_counts"]((h, w, c), filters, kernel, strides,
                                                       padding, use_bias))  # fmt: skip
        if got != want:
            wrong.append({"layer": f"Conv2D({filters}, {kernel}, strides={strides}, "
                          f"padding={padding!r}, use_bias={use_bias}) on {h}x{w}x{c}",
                          "got": got, "keras": want})  # fmt: skip
    return labkit.claim(
        "conv_counts gives Keras's parameter count (count_params) and the multiply-adds of "
        "Keras's output shape for 12 fresh Conv2D layers (7-40 pixel sides, 1-64 channels and "
        "filters, kernels up to 7x7, strides 1-3, VALID and SAME, with and without a bias)",
        not wrong, wrong=wrong[:2])  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
