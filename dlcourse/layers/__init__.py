"""Custom layers, constraints and regularizers, all serializable under package ``dlcourse``.

Each helper module registers its objects with
``@keras.saving.register_keras_serializable(package="dlcourse")``; importing
``dlcourse.layers`` registers them all, so ``keras.models.load_model`` finds them.
"""
# One import line per module (kept in this order; each unit adds its own line).
from dlcourse.layers.initializers import initializer_for  # noqa: F401  (Unit III)
from dlcourse.layers.maxnorm import MaxNorm, MaxNormClipper, clip_by_max_norm  # noqa: F401
from dlcourse.layers.mc_dropout import MCAlphaDropout, MCDropout, mc_predict  # noqa: F401
from dlcourse.layers.regularization import penalty, regularized_dense  # noqa: F401
from dlcourse.layers.rrelu import RReLU  # noqa: F401
from dlcourse.layers.lrn import LocalResponseNormalization  # noqa: F401  (Unit IV)
