"""
Title: Faster optimizers compared on one model
Unit: III
Notes: 000 (Unit III: momentum, Nesterov, AdaGrad, RMSProp, Adam; gradient clipping), 003, 004
Description: Trains the same MLP from the same initial weights on the 8x8 digits with every
optimizer of dlcourse's factory (SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, Nadam,
AdaMax, AdamW) and with momentum plus gradient clipping by norm, and draws all learning curves
in one figure. The NumPy versions of the update rules (dlcourse.scratch.optimizers) are
checked step by step against these Keras optimizers in the tests.
Two lessons need a problem where the optimum is known, so they are shown with Keras's own
optimizers on the notes' elongated quadratic bowl J = (theta1^2 + 100 theta2^2) / 2, from
(10, 1), deterministically. Nesterov vs momentum (beta 0.9, learning rate 0.01, so the steep
axis's curvature times the rate is 1): plain momentum overshoots across the steep axis and
zigzags there for the whole run (its swing shrinks only by sqrt(beta) = 0.95 per step), while
Nesterov's look-ahead gradient damps that swing within a few steps (by sqrt(beta (1 - rate x
curvature)) per step, whatever the rate): the notes' "control overshooting by looking ahead".
Along the flat axis both decay at about the same rate, so where Nesterov's J first falls below
1e-6 of its start sooner than momentum's, that is partly because its slow swing along the flat
axis happens to cross the minimum then (metrics ``bowl``, not claimed). Nesterov's stable
range is smaller (past a rate of about 1.36 / curvature it diverges where momentum does not).
AdaGrad vs RMSProp (learning rate 0.1): AdaGrad divides by the root of the sum of every squared
gradient since the start, which only grows, so its steps shrink to a few percent of the first
and it stalls far from the optimum; RMSProp divides by a moving average of recent squared
gradients, keeps stepping at about the learning rate and reaches the optimum, where it jitters
at that scale. On the digits MLP of this lab AdaGrad does not visibly stall within a few epochs
(it starts with large per-weight rates), so the lab claims the stall only on the bowl.
Three more lessons run the lab's own NumPy update rules (momentum_step, rmsprop_step: the
exercises, checked against Keras's SGD and RMSprop), deterministically. On the bowl at rate
0.01 plain GD (momentum with beta 0) shrinks theta1 by 0.99 a step and never passes the
minimum, while momentum 0.9 is underdamped along that axis: it overshoots by 15 % of the start,
comes back and crosses the minimum 5 times in 200 steps (notes 000: "overshoot a bit, then come
back, overshoot again"). On f(x) = x^2 / 20 - exp(-2 (x - 5)^2), a wide bowl with a shallow dip
at x = 4.87 on the way down, plain GD from every start x0 in 7-12 and rate 0.05-0.3 stops in
the dip; momentum reaches it with the velocity gathered on the slope above and carries it over
the bump at x = 3.90 to the global minimum 0 (notes 004: "escape from bad local minima pits").
This holds for every start in 6-14 and rate in 0.04-0.48 tried while writing the lab (391 runs);
below a rate of about 0.04, momentum's friction per unit of distance, (1 - beta) / sqrt(rate),
is larger and it stops in the dip too. At rate 0.1, five times plain GD's stability limit
2 / 100 on the bowl, GD blows up across the steep axis, while RMSProp, which divides each
coordinate's step by that coordinate's recent gradient scale, moves about 0.1 a step on both
axes and arrives (its J falls 800 times in 200 steps): notes 003's "With RMSprop we can
increase your learning rate".
Lesson: From the same initial weights and batches, momentum and adaptive optimizers such as
Adam learn much faster than plain SGD; Nesterov's look-ahead damps momentum's zigzag, and
AdaGrad's ever-growing sum of squared gradients stalls it where RMSProp keeps moving. Momentum
overshoots and oscillates where GD creeps, and its velocity carries it out of a shallow local
minimum; RMSProp converges at a rate where plain GD diverges.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np

from dlcourse import labkit, notes_examples, plots
from dlcourse.labkit import arg
from dlcourse.models.mlp import compile_classifier, deep_mlp
from dlcourse.training.optimizers import OPTIMIZERS, create_optimizer
from dlcourse.training.trainer import time_to
from dlcourse.training.variants import final, train_variants, variant_data

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    depth: int = arg(4, "hidden layers", check="positive")
    units: int = arg(64, "units per hidden layer", check="positive")
    epochs: int = arg(6, "training epochs per optimizer", check="positive")
    batch_size: int = arg(32, "mini-batch size", check="positive")
    clipnorm: float = arg(1.0, "clip threshold of the 'momentum + clipnorm' run", check="positive")
    target: float = arg(0.9, "validation accuracy of the time-to-accuracy metric", check=(0, 1))
    n_train: int = arg(
        0, "first training (and validation) examples used; 0 = all", check="non_negative"
    )
    bowl_steps: int = arg(200, "steps of each optimizer on the quadratic bowl", check="positive")
    dip_starts: tuple[float, ...] = arg(
        (7.0, 8.0, 9.0, 10.0, 11.0, 12.0),
        "starts x0 on the local-minimum function, right of its dip at 4.87 (5 to 50)",
        check=(5.0, 50.0),
    )
    dip_rates: tuple[float, ...] = arg(
        (0.05, 0.1, 0.2, 0.3), "learning rates on the local-minimum function", check="positive"
    )
    dip_steps: int = arg(500, "steps of each run on the local-minimum function", check="positive")
    optimizers: tuple[str, ...] = arg(
        tuple(OPTIMIZERS), "optimizers compared (plus 'momentum + clipnorm')",
        choices=tuple(OPTIMIZERS),
    )  # fmt: skip

    QUICK = labkit.quick(n_train=256, epochs=1, optimizers=("sgd", "momentum", "adam"))


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: the loader's 8x8 digits; a fresh training pipeline per variant, so every
    # variant sees the same batches in the same order.
    n = cfg.n_train or None
    train, val = variant_data(
        "digits", batch_size=cfg.batch_size, seed=cfg.seed, take=n, eval_take=n
    )

    shape = val.element_spec[0].shape[1:]  # (8, 8, 1), x in [0, 1] (scaled by the loader)

    # The same model for every optimizer; only the optimizer differs.
    def builder(name, **kw):
        def build():
            model = deep_mlp(shape, 10, depth=cfg.depth, units=cfg.units)
            return compile_classifier(model, create_optimizer(name, **kw))

        return build

    builds = {name: builder(name) for name in cfg.optimizers}
    builds[f"momentum + clipnorm={cfg.clipnorm}"] = builder("momentum", clipnorm=cfg.clipnorm)

    # Every optimizer trains from the same initial weights on the same batches.
    _, hist = train_variants(builds, train, val, epochs=cfg.epochs, cfg=cfg, folder=out / "train")
    plots.save(
        plots.curves(
            {k: h["val_loss"] for k, h in hist.items()},
            ylabel="validation loss",
            title="Optimizers, same model and data",
            logy=True,
        ),
        out,
        "val_loss",
    )

    # Results: training and validation loss curves, accuracy after the first epoch.
    plots.save(
        plots.curves(
            {k: h["loss"] for k, h in hist.items()},
            ylabel="training loss",
            title="Optimizers, same model and data",
            logy=True,
        ),
        out,
        "train_loss",
    )
    metrics = {
        "val_loss": final(hist, "val_loss"),
        "val_accuracy": final(hist, "val_accuracy"),
        "best_val_accuracy": max(final(hist, "val_accuracy").values()),
        # wall seconds until validation accuracy first reached the target (None: never)
        "time_to_target_s": {k: time_to(h, "val_accuracy", cfg.target) for k, h in hist.items()},
        "train_time_s": {k: h["time_s"][-1] for k, h in hist.items()},
        "best": min(hist, key=lambda k: hist[k]["val_loss"][-1]),
        "val_accuracy_epoch_1": {k: round(float(h["val_accuracy"][0]), 4) for k, h in hist.items()},
    }

    # The notes' elongated bowl J = (theta1^2 + 100 theta2^2) / 2 (minimum at 0): Keras's
    # optimizers step on it from (10, 1) with the exact gradient; momentum vs Nesterov at a rate
    # of 1 / (largest curvature), AdaGrad vs RMSProp at 0.1. Deterministic.
    bowl = {
        "momentum": keras.optimizers.SGD(0.01, momentum=0.9),
        "nesterov": keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
        "adagrad": keras.optimizers.Adagrad(0.1),
        "rmsprop": keras.optimizers.RMSprop(0.1),
    }
    paths = {k: _bowl_path(opt, cfg.bowl_steps) for k, opt in bowl.items()}
    plots.save(
        plots.curves(
            {k: 0.5 * (p**2 * BOWL).sum(axis=1) for k, p in paths.items()},
            xlabel="step",
            ylabel="J (theta)",
            title="Elongated bowl J = (theta1^2 + 100 theta2^2) / 2",
            logy=True,
        ),
        out,
        "bowl_loss",
    )
    metrics["bowl"] = {k: _bowl_summary(p) for k, p in paths.items()}

    # The lab's own NumPy update rules (momentum_step, rmsprop_step) on the same bowl, in
    # float64: plain GD is momentum with beta = 0. At rate 0.01 GD creeps down the flat axis
    # (factor 0.99 a step, never past the minimum) while momentum overshoots and swings back;
    # at rate 0.1, five times GD's stability limit 2 / 100, GD blows up across the steep axis
    # while RMSProp, which divides each coordinate's step by its own gradient scale, arrives.
    start = np.array([10.0, 1.0])
    with np.errstate(over="ignore", invalid="ignore"):  # the diverging GD run reaches inf
        swings = {
            f"{name} (rate 0.01)": descend(
                momentum_step, _bowl_grad, start, cfg.bowl_steps, lr=0.01, beta=beta
            )
            for name, beta in (("plain GD", 0.0), ("momentum 0.9", 0.9))
        }
        fast = {
            "plain GD (rate 0.1)": descend(
                momentum_step, _bowl_grad, start, cfg.bowl_steps, lr=0.1, beta=0.0
            ),
            "RMSProp (rate 0.1)": descend(rmsprop_step, _bowl_grad, start, cfg.bowl_steps, lr=0.1),
        }
        ratio = {k: float(_bowl_loss(p)[-1] / _bowl_loss(p)[0]) for k, p in fast.items()}
    plots.save(
        plots.curves(
            {k: p[:, 0] for k, p in swings.items()},
            xlabel="step",
            ylabel="theta1 (the minimum is at 0)",
            title="Along the bowl's flat axis: momentum overshoots, GD does not",
        ),
        out,
        "bowl_overshoot",
    )
    metrics["numpy_bowl"] = {
        "theta1_sign_changes": {k: _sign_changes(p[:, 0]) for k, p in swings.items()},
        "overshoot_past_minimum": {
            k: round(max(0.0, float(-p[:, 0].min())) / start[0], 4) for k, p in swings.items()
        },
        "final_over_start_J": {k: v if np.isfinite(v) else None for k, v in ratio.items()},
    }

    # Momentum out of a shallow local minimum: f(x) = x^2 / 20 - exp(-2 (x - 5)^2) has a dip
    # at x = 4.87 on the way down from x0 to the global minimum x = 0. Plain GD stops in the dip
    # on every start and rate below; momentum reaches the dip with its velocity built up on the
    # slope above it and carries it over the bump (at x = 3.90) to the global minimum.
    escape = _local_minimum_runs(cfg.dip_starts, cfg.dip_rates, cfg.dip_steps)
    metrics["local_minimum"] = escape["summary"]
    plots.save(
        plots.curves(
            escape["paths"],
            xlabel="step",
            ylabel="x",
            title="f(x) = x^2/20 - exp(-2 (x - 5)^2): local minimum 4.87, global 0",
        ),
        out,
        "local_minimum",
    )

    # The notes' worked examples: 003's exponentially weighted averages, 000's terminal velocity.
    metrics["notes_examples"] = notes_examples.optimizer_examples(out, cfg.seed)

    # The claims: after one epoch momentum and Adam are well ahead of plain SGD; on the bowl,
    # Nesterov damps the zigzag momentum keeps and AdaGrad stalls where RMSProp arrives; momentum's terminal velocity is the notes' 1 / (1 - beta) = 10 times the plain
    # step.
    first = metrics["val_accuracy_epoch_1"]
    claims = [
        labkit.beats(
            f"After one epoch, {name} beats plain SGD by at least {margin * 100:.0f} points of "
            "validation accuracy",
            first[name],
            first["sgd"],
            margin,
        )
        for name, margin in (("adam", 0.05), ("momentum", 0.03))
        if {name, "sgd"} <= set(first)
    ]
    b = metrics["bowl"]
    claims.append(
        labkit.claim(
            "On the elongated bowl, Nesterov damps momentum's zigzag across the steep axis: "
            "after 20 steps its largest swing there is at least 100 times smaller than plain "
            "momentum's (same rate 0.01, beta 0.9)",
            100 * b["nesterov"]["steep_swing_after_20"] <= b["momentum"]["steep_swing_after_20"],
            nesterov=b["nesterov"]["steep_swing_after_20"],
            momentum=b["momentum"]["steep_swing_after_20"],
        )
    )
    claims.append(
        labkit.claim(
            f"On the elongated bowl, AdaGrad stalls: after {cfg.bowl_steps} steps at rate 0.1 "
            "its steps have shrunk below a tenth of its first and it is at least 10 times "
            "farther from the minimum than RMSProp",
            b["adagrad"]["last_step_over_first"] < 0.1
            and b["adagrad"]["final_distance"] >= 10 * b["rmsprop"]["final_distance"],
            adagrad=b["adagrad"],
            rmsprop=b["rmsprop"],
        )
    )
    nb, dip = metrics["numpy_bowl"], metrics["local_minimum"]
    crossings = nb["theta1_sign_changes"]
    claims.append(
        labkit.claim(
            "Momentum overshoots and oscillates before it settles: on the elongated bowl at rate "
            f"0.01 its theta1 crosses the minimum at least 4 times in {cfg.bowl_steps} steps and "
            "swings past it by at least 10 % of the start, while plain GD at the same rate never "
            "crosses it",
            crossings["momentum 0.9 (rate 0.01)"] >= 4
            and nb["overshoot_past_minimum"]["momentum 0.9 (rate 0.01)"] >= 0.1
            and crossings["plain GD (rate 0.01)"] == 0,
            crossings=crossings,
            overshoot=nb["overshoot_past_minimum"],
        )
    )
    claims.append(
        labkit.claim(
            "Momentum carries the optimizer out of a shallow local minimum: on f(x) = x^2 / 20 - "
            "exp(-2 (x - 5)^2), from every start and rate tried, plain GD stops in the local "
            "minimum x = 4.87 while momentum (beta 0.9) ends within 0.01 of the global minimum 0",
            dip["gd_stuck"] == dip["runs"] and dip["momentum_escaped"] == dip["runs"],
            **dip,
        )
    )
    j = nb["final_over_start_J"]
    claims.append(
        labkit.claim(
            "RMSProp allows a larger learning rate: on the elongated bowl at rate 0.1, five "
            "times plain GD's stability limit 2 / 100, plain GD diverges (J grows at least 1e6 "
            "times) while RMSProp's J falls at least 100 times",
            (j["plain GD (rate 0.1)"] is None or j["plain GD (rate 0.1)"] >= 1e6)
            and j["RMSProp (rate 0.1)"] <= 0.01,
            final_over_start_J=j,
        )
    )
    velocity = metrics["notes_examples"]["momentum_terminal_velocity"]
    claims.append(
        labkit.within(
            "Momentum (beta 0.9) settles at the notes' 10 times the plain step (relative error)",
            round(abs(velocity["ratio"] / 10 - 1), 6),
            1e-3,
        )
    )
    metrics["claims"] = claims  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


BOWL = np.array([1.0, 100.0], "float32")  # the bowl's curvatures: J = sum(BOWL * theta**2) / 2


def _bowl_path(optimizer: keras.optimizers.Optimizer, steps: int) -> np.ndarray:
    """theta at every step of ``optimizer`` on the bowl from (10, 1): shape (steps + 1, 2)."""
    theta = keras.Variable(np.array([10.0, 1.0], "float32"))
    path = [theta.numpy()]
    for _ in range(steps):
        optimizer.apply_gradients([(BOWL * theta.value, theta)])  # grad J = BOWL * theta
        path.append(theta.numpy())
    return np.array(path)


def _bowl_summary(path: np.ndarray) -> dict:
    """Steps until J < 1e-6 of its start (None: never), the largest |theta2| (the steep axis)
    after step 20, the final distance to the minimum and the last step's length over the
    first's."""
    loss = 0.5 * (path**2 * BOWL).sum(axis=1)
    below = np.flatnonzero(loss < 1e-6 * loss[0])
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    return {
        "steps_to_1e-6": int(below[0]) if below.size else None,
        "steep_swing_after_20": round(float(np.abs(path[20:, 1]).max()), 8),
        "final_distance": round(float(np.linalg.norm(path[-1])), 6),
        "last_step_over_first": round(float(steps[-1] / steps[0]), 4),
    }


def momentum_step(theta, g, velocity, *, lr, beta, nesterov=False):
    """One step of Keras's SGD(momentum=beta, nesterov=nesterov) from ``theta`` with gradient
    ``g``; returns (theta, velocity). beta = 0 is plain gradient descent."""
    # Update the velocity v <- beta v - lr g, then step theta <- theta + v (Nesterov looks
    # ahead: theta <- theta + beta v - lr g, with the new v).
    ### BEGIN SOLUTION
    velocity = beta * velocity - lr * g
    theta = theta + (beta * velocity - lr * g if nesterov else velocity)
    ### END SOLUTION
    return theta, velocity


def rmsprop_step(theta, g, s, *, lr, rho=0.9, eps=1e-7):
    """One step of Keras's RMSprop(lr, rho, epsilon=eps); returns (theta, s)."""
    # Update the moving average of squared gradients s <- rho s + (1 - rho) g^2, then step
    # theta <- theta - lr g / sqrt(s + eps).
    ### BEGIN SOLUTION
    s = rho * s + (1 - rho) * g**2
    theta = theta - lr * g / np.sqrt(s + eps)
    ### END SOLUTION
    return theta, s


def descend(step, grad, theta0, steps: int, **kw) -> np.ndarray:
    """theta at every one of ``steps`` steps of ``step`` (momentum_step, rmsprop_step) on the
    gradient function ``grad``, from ``theta0``: shape (steps + 1, dims)."""
    theta = np.array(theta0, np.float64)
    state, path = np.zeros_like(theta), [theta]
    for _ in range(steps):
        theta, state = step(theta, grad(theta), state, **kw)
        path.append(theta)
    return np.array(path)


def _bowl_grad(theta: np.ndarray) -> np.ndarray:
    return BOWL.astype(np.float64) * theta


def _bowl_loss(path: np.ndarray) -> np.ndarray:
    return 0.5 * (path**2 * BOWL.astype(np.float64)).sum(axis=1)


def _sign_changes(x: np.ndarray) -> int:
    """How often ``x`` crosses 0 (a step that lands exactly on 0 is not a crossing)."""
    s = np.sign(x[x != 0])
    return int(np.sum(s[1:] != s[:-1]))


DIP_MINIMUM = 4.8742  # f's local minimum (f' = 0 there; the bump between it and 0 is at 3.8990)


def _dip_grad(x: np.ndarray) -> np.ndarray:
    """f'(x) for f(x) = x^2 / 20 - exp(-2 (x - 5)^2)."""
    return x / 10 + 4 * (x - 5) * np.exp(-2 * (x - 5) ** 2)


def _local_minimum_runs(starts, rates, steps: int) -> dict:
    """Plain GD and momentum (beta 0.9) from every start and rate on the dip function: where
    each ends, how many GD runs stop in the local minimum (|x - 4.87| < 0.01) and how many
    momentum runs reach the global one (|x| < 0.01); the paths of the first start and rate."""
    ends = {"plain GD": [], "momentum 0.9": []}
    paths = {}
    for x0 in starts:
        for lr in rates:
            for name, beta in (("plain GD", 0.0), ("momentum 0.9", 0.9)):
                path = descend(momentum_step, _dip_grad, [x0], steps, lr=lr, beta=beta)[:, 0]
                ends[name].append(float(path[-1]))
                if (x0, lr) == (starts[0], rates[0]):  # the figure: one start and rate
                    paths[f"{name} (x0 = {x0:g}, rate {lr:g})"] = path
    return {
        "summary": {
            "runs": len(ends["plain GD"]),
            "gd_stuck": sum(abs(x - DIP_MINIMUM) < 0.01 for x in ends["plain GD"]),
            "momentum_escaped": sum(abs(x) < 0.01 for x in ends["momentum 0.9"]),
            "gd_ends": [round(min(ends["plain GD"]), 4), round(max(ends["plain GD"]), 4)],
            "momentum_ends": [
                round(min(ends["momentum 0.9"]), 6),
                round(max(ends["momentum 0.9"]), 6),
            ],
        },
        "paths": paths,
    }


### BEGIN HIDDEN TESTS
from dlcourse import checks  # the graders' helpers, beside the checks


def _fresh_quadratic(rng):
    """J = theta^T A theta / 2 - c^T theta in 2-5 dimensions, curvatures 0.1-10: its gradient,
    a start and the largest curvature."""
    n = int(rng.integers(2, 6))
    q, curvatures = np.linalg.qr(rng.normal(size=(n, n)))[0], rng.uniform(0.1, 10.0, n)
    a, c, theta0 = q @ np.diag(curvatures) @ q.T, rng.normal(size=n), 3 * rng.normal(size=n)
    return (lambda t: a @ t - c), theta0, float(curvatures.max())


def _gap_to_keras(step, optimizer, grad, theta0, **kw) -> float:
    """12 steps of Keras's ``optimizer`` and of the student's ``step`` from ``theta0``: max
    |difference| along the path, relative to its largest coordinate."""
    theta = keras.Variable(theta0, dtype="float64")
    want = [theta.numpy()]
    for _ in range(12):
        optimizer.apply_gradients([(grad(theta.numpy()), theta)])
        want.append(theta.numpy())
    path = descend(step, grad, theta0, 12, **kw)
    return checks.max_abs_diff(path, want) / max(1.0, float(np.abs(np.array(want)).max()))


def check_momentum_step(ns: dict) -> dict:
    """momentum_step follows keras.optimizers.SGD(momentum, nesterov) on a fresh quadratic."""
    rng = np.random.default_rng()
    grad, theta0, curvature = _fresh_quadratic(rng)
    errors = {}
    for nesterov in (False, True):
        lr, beta = float(rng.uniform(0.1, 1.0) / curvature), float(rng.uniform(0.5, 0.95))
        optimizer = keras.optimizers.SGD(lr, momentum=beta, nesterov=nesterov)
        errors["nesterov" if nesterov else "momentum"] = _gap_to_keras(
            ns["momentum_step"], optimizer, grad, theta0, lr=lr, beta=beta, nesterov=nesterov
        )
    return labkit.within(
        "momentum_step takes Keras SGD's 12 steps with momentum and with Nesterov momentum on "
        "a fresh random quadratic (max |difference| along the path, relative)",
        max(errors.values()), 1e-6, errors=errors,
    )  # fmt: skip


def check_rmsprop_step(ns: dict) -> dict:
    """rmsprop_step follows keras.optimizers.RMSprop on a fresh quadratic."""
    rng = np.random.default_rng()
    grad, theta0, _ = _fresh_quadratic(rng)
    lr, rho = float(rng.uniform(0.001, 0.1)), float(rng.uniform(0.8, 0.99))
    error = _gap_to_keras(ns["rmsprop_step"], keras.optimizers.RMSprop(lr, rho=rho), grad,
                          theta0, lr=lr, rho=rho)  # fmt: skip
    return labkit.within(
        "rmsprop_step takes Keras RMSprop's 12 steps on a fresh random quadratic "
        "(max |difference| along the path, relative)",
        error, 1e-6,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
