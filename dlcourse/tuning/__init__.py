"""Hyperparameter search with keras-tuner: hypermodels, the coarse-to-fine and cross-validated
tuners, one factory, and :func:`run_search` (what ``make tune`` runs).

    python -m dlcourse.tuning --tuner grid|random|coarse-to-fine|cv-grid|hyperband|bayesian
    python -m dlcourse.tuning.distributed --workers 2 --tuner random
"""

from dlcourse.tuning.coarse_to_fine import CoarseToFine, CoarseToFineOracle
from dlcourse.tuning.cv import CVGridSearch, CVTuner
from dlcourse.tuning.factory import TUNERS, make_tuner
from dlcourse.tuning.hypermodels import DEFAULT_SPACE, GRID_SPACE, MLPHyperModel, validate_space
from dlcourse.tuning.oracles import SearchFailedError
from dlcourse.tuning.search import cv_pool, loader_splits, run_search, summarize, table

__all__ = [
    "DEFAULT_SPACE",
    "GRID_SPACE",
    "TUNERS",
    "CVGridSearch",
    "CVTuner",
    "CoarseToFine",
    "CoarseToFineOracle",
    "MLPHyperModel",
    "SearchFailedError",
    "cv_pool",
    "loader_splits",
    "make_tuner",
    "run_search",
    "summarize",
    "table",
    "validate_space",
]
