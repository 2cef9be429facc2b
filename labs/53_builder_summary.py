"""
Title: Every builder summarized: parameters, output shapes, multiply-adds
Unit: IV
Notes: 000 (Unit IV: memory requirements, LeNet-5 and AlexNet tables), 002 (classic networks summary: parameter counts)
Lesson: A CNN's size follows from its layer shapes alone: counting each layer's weights and
multiply-adds from the builders' output shapes reproduces the published parameter counts of
every reference model (keras.applications, torchvision, the papers and the notes' tables),
without allocating a single weight.
Description: Builds every registered model at its paper size (shapes only: the weights are
never allocated, and nothing is trained) and writes, per
model, a layer table (output shape, parameters, multiply-adds per instance) and an overview
table, checking each parameter count against its reference (keras.applications for VGG-16 and
ResNet-50/101/152, torchvision/the paper for ResNet-18/34, the notes' tables for LeNet-5 and
AlexNet). One figure: parameters vs multiply-adds, log-log.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import numpy as np

from dlcourse import labkit, notes_examples, plots
from dlcourse.labkit import arg
from dlcourse.models import create_model, list_models, model_family
from dlcourse.models.summary import shapes_only, summary_table, total_macs
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
    }
    if name in REFERENCES and not kwargs.get("width"):
        ref, what, source = REFERENCES[name]
        row.update(reference=ref, reference_counts=what, reference_source=source,
                   matches_reference=count(model, what) == ref)  # fmt: skip
    return row, f"### {name}\n\n{summary_table(model)}\n"


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

    # The claim: every builder with a reference count matches it exactly.
    expected = [n for n, kw in plan.items() if n in REFERENCES and not kw.get("width")]
    metrics["claims"] = [
        labkit.claim(
            f"Parameter counts match {sum(checked)} of {len(expected)} references "
            "(keras.applications, torchvision, the papers, the notes' tables) exactly",
            bool(expected) and sum(checked) == len(expected),
            matched=sum(checked), references=len(expected)),
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
