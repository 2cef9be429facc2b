"""The model registry: every registered builder builds, runs, round-trips; reference counts."""

from __future__ import annotations

import functools

import keras
import numpy as np
import pytest

from dlcourse.models import create_model, list_models, model_family
from dlcourse.models.summary import shapes_only

# A small configuration per family (width/input knobs); other families get the generic one.
SMALL = {
    "lenet": {"input_shape": (32, 32, 1)},
    "small_cnn": {},
    "alexnet": {"input_shape": (64, 64, 3), "width": 1 / 16},
    "vgg": {"input_shape": (32, 32, 3), "width": 1 / 16},
    "googlenet": {"input_shape": (32, 32, 3), "width": 1 / 16},
    "resnet": {"input_shape": (32, 32, 3), "width": 1 / 16},
}
GENERIC = {"input_shape": (8, 8, 1)}
CNN_FAMILIES = set(SMALL)
CNN_MODELS = [n for n in list_models() if model_family(n) in CNN_FAMILIES]
# The smallest member of each CNN family (deep ResNets take seconds to build on 2 cores).
FAMILY_HEADS = ["alexnet", "googlenet", "lenet5", "resnet18", "small_cnn", "vgg11"]


def small_kwargs(name: str) -> dict:
    return {"classes": 5, **SMALL.get(model_family(name), GENERIC)}


@pytest.mark.parametrize("name", list_models())
def test_builds_runs_and_round_trips(name, tmp_path, rng):
    model = create_model(name, **small_kwargs(name))
    x = rng.random((2, *model.input_shape[1:])).astype("float32")
    y = model(x, training=False)
    assert tuple(y.shape) == (2, 5)
    np.testing.assert_allclose(np.sum(y, axis=-1), 1.0, rtol=1e-5)  # softmax output
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.count_params() == model.count_params()
    np.testing.assert_allclose(loaded(x, training=False), y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", FAMILY_HEADS)
def test_feature_extraction_without_top(name, rng):
    kw = small_kwargs(name)
    maps = create_model(name, include_top=False, **kw)
    assert len(maps.output_shape) == 4
    pooled = create_model(name, include_top=False, pooling="max", **kw)
    assert pooled.output_shape == (None, maps.output_shape[-1])
    pooled.set_weights(maps.get_weights())  # same layers, plus a weightless global pool
    x = rng.random((2, *maps.input_shape[1:])).astype("float32")
    np.testing.assert_allclose(pooled(x), np.max(maps(x), axis=(1, 2)), rtol=1e-6)


@pytest.mark.parametrize("name", CNN_MODELS)
def test_bad_arguments_are_readable_errors(name):
    kw = small_kwargs(name)
    with pytest.raises(ValueError, match=r"Received: classes=0"):
        create_model(name, **{**kw, "classes": 0})
    with pytest.raises(ValueError, match=r"Received: pooling='min'"):
        create_model(name, include_top=False, pooling="min", **kw)
    with pytest.raises(ValueError, match=r"Received: width=-0.5"):
        create_model(name, **{**kw, "width": -0.5})


# Smallest failing input per family and the layer that would get no pixels.
TOO_SMALL = {
    "lenet5": ((28, 28, 1), "c5"),
    "small_cnn": ((2, 2, 1), "block1_conv"),
    "alexnet": ((16, 16, 3), "block2_pool"),
    "vgg16": ((16, 16, 3), "block5_pool"),
    "googlenet": ((32, 32, 3), "aux_4a_avg_pool"),
}


@pytest.mark.parametrize("name", sorted(TOO_SMALL))
def test_too_small_input_names_the_layer(name):
    shape, layer = TOO_SMALL[name]
    extra = {"aux_logits": True} if name == "googlenet" else {}
    with pytest.raises(
        ValueError,
        match=rf"layer '{layer}' would get a non-positive.*"
        rf"Received: input_shape=\({shape[0]}, ",
    ):
        create_model(name, input_shape=shape, width=0.1, **extra)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"Received: name='vgg17'.*vgg16"):
        create_model("vgg17")


# --------------------------------------------------------------------------- reference counts


@functools.cache
def keras_count(app: str) -> int:
    return shapes_only(getattr(keras.applications, app), weights=None).count_params()


@pytest.mark.parametrize(
    "name, app, expected",
    [
        ("vgg16", "VGG16", 138_357_544),
        ("resnet50", "ResNet50", 25_636_712),
        ("resnet152", "ResNet152", 60_419_944),
    ],
)
def test_counts_equal_keras_applications(name, app, expected):
    model = shapes_only(create_model, name, classes=1000)
    assert model.count_params() == keras_count(app) == expected
    assert model.layers[1].name in ("block1_conv1", "conv1_pad")  # keras' layer names


def _trainable(model) -> int:
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_resnet34_and_18_match_the_paper_torchvision_counts():
    assert _trainable(shapes_only(create_model, "resnet34")) == 21_797_672
    assert _trainable(shapes_only(create_model, "resnet18")) == 11_689_512


def test_lenet5_counts_follow_the_notes_table():
    classic = create_model("lenet5")
    by_layer = {layer.name: layer.count_params() for layer in classic.layers}
    assert by_layer == {
        **by_layer,
        "c1": 156,
        "s2": 12,
        "c3": 1_516,
        "s4": 32,
        "c5": 48_120,
        "f6": 10_164,
        "rbf": 840,
    }
    assert classic.count_params() == 60_840  # the paper's "60,000" (notes 002: 60 thousand)
    assert classic.get_layer("c5").output.shape[1:] == (1, 1, 120)  # C5 maps are 1x1
    full = create_model("lenet5", connection_table=False, rbf_output=False)
    assert full.get_layer("c3").count_params() == 2_416 and full.count_params() == 61_750
    assert create_model("lenet5_modern").count_params() == 61_706


def test_alexnet_paper_default_grouped_and_notes_variant():
    from dlcourse.models.summary import total_macs

    paper = shapes_only(create_model, "alexnet")
    shapes = {n: paper.get_layer(n).output.shape[1:] for n in ("block2_pool", "block3_pool")}
    assert shapes == {"block2_pool": (13, 13, 256), "block3_pool": (6, 6, 256)}
    assert paper.count_params() == 62_378_344  # one tower, pool after the last conv
    grouped = shapes_only(create_model, "alexnet", groups=2)
    assert grouped.count_params() == 60_965_224  # the paper's two-GPU network
    assert 0.70e9 < total_macs(grouped) < 0.75e9  # ~0.72 G multiply-adds at 224x224
    notes = shapes_only(create_model, "alexnet", variant="notes")
    assert notes.count_params() == 201_838_952  # the notes' table: no pool after C7
    assert sum("lrn" in layer.name for layer in paper.layers) == 2
    with pytest.raises(ValueError, match="Received: groups=3"):
        create_model("alexnet", groups=3)


def test_googlenet_count_and_aux_outputs():
    assert shapes_only(create_model, "googlenet").count_params() == 6_998_552
    aux = create_model(
        "googlenet", input_shape=(96, 96, 3), width=1 / 16, classes=3, aux_logits=True
    )
    assert [tuple(o.shape) for o in aux.outputs] == [(None, 3)] * 3


# --------------------------------------------------------------------------- summary table


def test_summary_counts_multiply_adds_like_the_notes():
    from dlcourse.models.summary import summarize, summary_table, total_macs

    rows = {r.name: r for r in summarize(create_model("lenet5"))}
    assert rows["c1"].macs == 28 * 28 * 6 * (5 * 5 * 1)
    assert rows["c3"].macs == 10 * 10 * 25 * 60  # only the 60 connected map pairs of Table I
    assert (rows["c5"].macs, rows["f6"].macs, rows["rbf"].macs) == (48_000, 10_080, 840)
    assert rows["c3"].output_shape == (10, 10, 16) and rows["s2"].params == 12
    one_by_one = create_model("conv1x1_net")
    assert total_macs(one_by_one) == 6 * 6 * 2 * 5 + 72 * 10  # 1x1 conv, then the classifier
    table = summary_table(one_by_one)
    assert "| block1_conv | Conv2D | (6, 6, 2) | 12 | 360 |" in table and "**total**" in table


def test_convolution_lab_reproduces_the_notes(tmp_path):
    from dlcourse import labkit

    m = labkit.run_lab("50", quick=True, out_dir=str(tmp_path))
    assert len(m["claims"]) == 7 and not labkit.failed_claims(m)  # every claim holds at quick
    ex = m["worked_examples"]
    assert ex["relu_matches_notes"] and ex["max_pool_stride2_matches_notes"]
    assert ex["max_pool_stride1_matches_notes"] and ex["flatten_row_major"] == [6, 8, 3, 4]
    assert ex["padded_conv_output_size"] == [6, 6] and ex["conv1x1_output_shape"] == [6, 6, 2]
    assert max(m["vs_tf"].values()) < 1e-6
    cost = m["notes_cost_example"]
    assert (cost["parameters"], cost["multiplications"]) == (15_200, 225_000_000)
    assert cost["output_mib_per_instance"] == 11.44
    assert (tmp_path / "50_convolution_pooling" / "feature_maps.png").stat().st_size > 10_000


# --------------------------------------------------------------------------- LeNet-5 layers


def test_lenet5_classic_layers_compute_what_the_paper_says(rng):
    from dlcourse.models.lenet import C3_TABLE, EuclideanRBF, PartialConv2D, TrainableSubsampling

    x = rng.normal(size=(2, 4, 6, 3)).astype("float32")
    sub = TrainableSubsampling(2)
    sub.build(x.shape)
    sub.set_weights([np.array([1.0, 2.0, -1.0]), np.array([0.0, 0.5, 1.0])])
    mean = x.reshape(2, 2, 2, 3, 2, 3).mean(axis=(2, 4))  # 2x2 means, per map
    np.testing.assert_allclose(sub(x), mean * [1.0, 2.0, -1.0] + [0.0, 0.5, 1.0], rtol=1e-5)

    maps = rng.normal(size=(1, 9, 9, 6)).astype("float32")
    c3 = PartialConv2D(C3_TABLE, 5)
    base = np.asarray(c3(maps))
    changed = maps.copy()
    changed[..., 3:] += 10.0  # S2 maps 3-5 do not feed C3 map 0 (it reads maps 0, 1, 2)
    out = np.asarray(c3(changed))
    np.testing.assert_allclose(out[..., 0], base[..., 0], rtol=1e-5)
    assert not np.allclose(out[..., 15], base[..., 15])  # map 15 reads all six

    rbf = EuclideanRBF(3)
    v = rng.normal(size=(4, 5)).astype("float32")
    d = np.asarray(rbf(v))
    centers = np.asarray(rbf.centers)
    np.testing.assert_allclose(d, ((v[:, :, None] - centers[None]) ** 2).sum(1), rtol=1e-4)


def test_lrn_nets_run_in_mixed_precision_with_xla(rng):
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = create_model("alexnet", input_shape=(64, 64, 3), width=1 / 16, classes=4)
    assert model.get_layer("block1_lrn").compute_dtype == "float32"
    assert model.get_layer("block1_conv").compute_dtype == "float16"
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True)
    x = rng.random((2, 64, 64, 3)).astype("float32")
    loss = model.train_on_batch(x, np.array([0, 1]))
    assert np.isfinite(loss) and model(x).dtype == "float32"
