"""A tensorflow-datasets builder for the embedded digits: ``tfds.load("dlcourse_digits")``.

Importing this module registers the builder (tfds finds builders by class registration)::

    import dlcourse.data.tfds_digits  # noqa: F401  (registers "dlcourse_digits")
    ds = tfds.load("dlcourse_digits/digits28", split="train", data_dir="/tmp/tfds",
                   as_supervised=True)

Nothing is downloaded: the examples are generated from the digits scikit-learn ships
(:mod:`dlcourse.data.embedded`), with the same fixed, stratified splits ``train``/``val``/``test``
and the same pixels (uint8, 0..255). Three configs: ``digits`` (8x8, the default),
``digits28`` (MNIST-shaped) and ``digits32`` (LeNet-5's input).
"""

from __future__ import annotations

from typing import ClassVar

import tensorflow_datasets as tfds
from etils import epath

from dlcourse.data import embedded

_SIZES = {"digits": 8, "digits28": 28, "digits32": 32}

_CITATION = """@article{alpaydin1998optical,
  title={Optical Recognition of Handwritten Digits},
  author={Alpaydin, E. and Kaynak, C.},
  journal={UCI Machine Learning Repository},
  year={1998}
}"""


class DlcourseDigits(tfds.core.GeneratorBasedBuilder):
    """The 1,797 real 8x8 handwritten digits scikit-learn ships, as a tfds dataset."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {
        "1.0.0": "Embedded digits with dlcourse's fixed stratified splits."
    }
    BUILDER_CONFIGS: ClassVar[list[tfds.core.BuilderConfig]] = [
        tfds.core.BuilderConfig(name="digits", description="8x8 pixels, as scikit-learn ships"),
        tfds.core.BuilderConfig(name="digits28", description="MNIST-shaped 28x28 variant"),
        tfds.core.BuilderConfig(name="digits32", description="32x32 variant (LeNet-5 input)"),
    ]

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        # tfds 4.9.10 resolves this through `importlib_resources`, which it only installs on
        # Python < 3.9; its own fallback (the defining file) is what we want anyway.
        return epath.Path(__file__)

    def _info(self) -> tfds.core.DatasetInfo:
        size = _SIZES[self.builder_config.name]
        features = tfds.features.FeaturesDict(
            {
                "image": tfds.features.Image(shape=(size, size, 1)),
                "label": tfds.features.ClassLabel(num_classes=10),
            }
        )
        return self.dataset_info_from_configs(
            description=embedded.__doc__,
            features=features,
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html",
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # nothing to download: scikit-learn ships the data
        splits = embedded.build(self.builder_config.name)
        return {name: self._generate_examples(split) for name, split in splits.items()}

    def _generate_examples(self, split: embedded.Split):
        for i, (image, label) in enumerate(zip(split.x, split.y)):
            yield i, {"image": image, "label": int(label)}
