"""Every figure helper, one module per subject, all reachable as ``plots.<name>``.

* :mod:`~dlcourse.plots.output`: :func:`save` (atomic PNG in a run folder, inline in Jupyter).
* :mod:`~dlcourse.plots.training`: learning curves, bars, cost per iteration, gradient norms,
  train vs validation panels, the LR finder, labelled scatters.
* :mod:`~dlcourse.plots.comparisons`: one setting against another: the train-validation gap
  per regularizer, early stopping, a value per learning rate or scale, clipping on and off.
* :mod:`~dlcourse.plots.images`: image grids (feature maps, augmented samples), weights as
  images, dropout masks.
* :mod:`~dlcourse.plots.spaces`: gradient-descent paths, fitted lines, decision regions,
  representations, the activation table (Units I and II).
* :mod:`~dlcourse.plots.search`: hyperparameter search: scores per trial, regret, c2f ranges.

Helpers return a ``matplotlib.figure.Figure``; :func:`save` writes it atomically as PNG into a
lab's run folder, shows it inline when running under Jupyter, and closes it (labs make many
figures; open figures would pile up).
"""

from __future__ import annotations

from dlcourse.plots.comparisons import (
    clipping_panels,
    early_stopping_curve,
    sweep,
    train_val_gap_panels,
)
from dlcourse.plots.images import dropout_masks, image_grid, weight_images
from dlcourse.plots.output import in_notebook, save
from dlcourse.plots.search import c2f_ranges, regret_curves, tuning_scores
from dlcourse.plots.spaces import (
    activation_table,
    decision_regions,
    gd_lines,
    gd_paths,
    regression_fit,
    two_representations,
)
from dlcourse.plots.training import (
    bars,
    cost_curves,
    curves,
    ewma_bias_correction,
    labelled_scatter,
    layer_gradient_norms,
    lr_finder,
    train_val_panels,
    uncertainty_hist,
)

__all__ = [
    "activation_table",
    "bars",
    "c2f_ranges",
    "clipping_panels",
    "cost_curves",
    "curves",
    "decision_regions",
    "dropout_masks",
    "early_stopping_curve",
    "ewma_bias_correction",
    "gd_lines",
    "gd_paths",
    "image_grid",
    "in_notebook",
    "labelled_scatter",
    "layer_gradient_norms",
    "lr_finder",
    "regression_fit",
    "regret_curves",
    "save",
    "sweep",
    "train_val_gap_panels",
    "train_val_panels",
    "tuning_scores",
    "two_representations",
    "uncertainty_hist",
    "weight_images",
]
