"""Custom layers, constraints and regularizers, all serializable under package ``dlcourse``.

Each helper module registers its objects with
``@keras.saving.register_keras_serializable(package="dlcourse")``; importing
``dlcourse.layers`` registers them all, so ``keras.models.load_model`` finds them.
"""

from dlcourse.layers.initializers import initializer_for
from dlcourse.layers.lrn import LocalResponseNormalization
from dlcourse.layers.maxnorm import MaxNorm, MaxNormClipper, clip_by_max_norm
from dlcourse.layers.mc_dropout import MCAlphaDropout, MCDropout, mc_predict
from dlcourse.layers.regularization import penalty, regularized_dense
from dlcourse.layers.rrelu import RReLU

__all__ = [
    "LocalResponseNormalization",
    "MCAlphaDropout",
    "MCDropout",
    "MaxNorm",
    "MaxNormClipper",
    "RReLU",
    "clip_by_max_norm",
    "initializer_for",
    "mc_predict",
    "penalty",
    "regularized_dense",
]
