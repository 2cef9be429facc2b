"""Grading by claims and hidden checks: blank = 0, a mutant loses the check that names it, a
class folder with broken submissions is graded on both cores and resumes after a kill.

The solution's full marks are asserted on the quick run the notebook test already makes
(``tests/test_notebook.py``), so no lab runs twice for it here; blanks stop at their first stub,
and mutants are graded by the hidden checks alone (the checks are what a mutant must fail)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from dlcourse import checks, classroom, cli, exercise, grade, labkit, notebook

EXERCISE_LABS = [lab.name for lab in labkit.list_labs() if exercise.BEGIN in lab.path.read_text()]

# One deliberate mistake per lab, inside a solution region, and the check that must catch it.
MUTANTS = {
    "01": ("eta * (2.0 / len(xb)", "eta * (1.0 / len(xb)", "batch_gd"),
    "02": ("2.0 / len(idx) * xi.T", "2.0 / batch_size * xi.T", "minibatch_gd"),
    "03": ("L2(l2 / (2 * m))", "L2(l2 / m)", "one_neuron"),
    "04": ("np.arctan2(xy[:, 1], xy[:, 0])", "np.arctan(xy[:, 1] / xy[:, 0])", "to_polar"),
    "05": ("{k: scaler.transform(x) for k, x in xs.items()}",
           "{k: StandardScaler().fit_transform(x) for k, x in xs.items()}", "standardize"),
    "06": ("    if n >= 4:\n        ds = ds.cache()", "    if n >= 5:\n        ds = ds.cache()",
           "stage"),
    "10": ("w = w + eta * target * xi", "w = w + eta * xi", "perceptron_epoch"),
    "11": ('"prelu": np.where(z < 0, 0.25, 1.0)', '"prelu": np.where(z < 0, 0.0, 1.0)',
           "derivatives"),
    "12": ("dz.sum(axis=1, keepdims=True) / m", "dz.sum(axis=1, keepdims=True) / (m + 1)",
           "backward"),
    "13": ("optimizer.apply_gradients(zip(grads,",
           "optimizer.apply_gradients(zip([2 * g for g in grads],", "low_level_loop"),
    "14": ("keras.layers.Dropout(cfg.dropout),\n            keras.layers.Dense(10, ",
           "keras.layers.Dense(10, ", "build_model"),
    "15": ("totals = {k: tf.reduce_sum(v)", "totals = {k: tf.reduce_mean(v)",
           "output_gradients"),
    "20": ("return np.minimum.accumulate(values) - fn.optimum",
           "return np.asarray(values) - fn.optimum", "regret"),
    "30": ("keras.ops.sqrt(sum(keras.ops.sum(g * g) for g in grads))",
           "sum(keras.ops.sqrt(keras.ops.sum(g * g)) for g in grads)", "norm_logging_sgd"),
    "31": ("np.all(np.asarray(a) <= 0, axis=0)", "np.all(np.asarray(a) < 0, axis=0)",
           "dead_fraction"),
    "32": ("w.max(axis=1) - w.min(axis=1)", "w.max(axis=0) - w.min(axis=0)", "unit_spread"),
    "33": ("(beta * velocity - lr * g if nesterov else velocity)",
           "(beta * velocity if nesterov else velocity)", "momentum_step"),
    "34": ("keras.ops.power(10.0, -t / self.r)", "keras.ops.exp(-t / self.r)", "exponential"),
    "35": ("        if wait >= patience:", "        if wait > patience:", "stop_early"),
    "36": ("        layer.trainable = False\n    outputs",
           "        layer.trainable = True\n    outputs", "reuse_frozen"),
    "37": ("for i, enc in enumerate(encoders, 1):", "for i, enc in enumerate(encoders[1:], 2):",
           "pretrained_classifier"),
    "38": ("Dense(units, use_bias=not batch_norm, kernel_initializer=init)",
           "Dense(units, kernel_initializer=init)", "bn_mlp"),
    "39": ("tent = np.array([[2.0], [-4.0]])", "tent = np.array([[2.0], [-2.0]])",
           "sawtooth_net"),
    "50": ("constant_values=np.nan", "constant_values=0.0", "pool2d"),
    "51": ('keras.layers.MaxPooling2D(2, name="s4")',
           'keras.layers.AveragePooling2D(2, name="s4")', "lenet5_modern"),
    "52": ('Conv2D(c, 3, padding="same", activation="relu",', 'Conv2D(c, 3, activation="relu",',
           "vgg_block"),
    "53": ("c_in * filters + (filters if use_bias else 0)", "c_in * filters", "conv_counts"),
    "54": ("weighted[len(weighted) - k :]", "weighted[-k:]", "unfreeze_top"),
    "55": ('        y = dense_bn(y, f"block{b}_dense2")  # F(x)',
           '        y = layers.ReLU()(dense_bn(y, f"block{b}_dense2"))  # F(x)', "build_net"),
    "56": ('keras.layers.Conv2D(maps, 3, padding="same", activation="relu"',
           'keras.layers.Conv2D(maps, 3, activation="relu"', "small_cnn"),
    "70": ("loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)",
           "loss = tf.reduce_mean(per_example)", "replica_grads"),
}  # fmt: skip


def test_every_exercise_lab_has_a_mutant():
    assert sorted(MUTANTS) == sorted(n[:2] for n in EXERCISE_LABS)


@pytest.mark.parametrize("name", EXERCISE_LABS)
def test_the_blank_student_script_scores_zero(name, tmp_path):
    lab = labkit.find_lab(name)
    path = tmp_path / f"{name}.py"
    path.write_text(exercise.student_script(lab))
    result = grade.grade_one(path)
    assert result["lab"] == lab.number and result["max_score"] > 0
    assert result["score"] == 0, classroom.format_result(result)
    assert "NotImplementedError" in result["stopped"]
    checks = [i for i in result["items"] if i["kind"] == "check"]
    assert checks and all("NotImplementedError" in i["raised"] for i in checks)


@pytest.mark.parametrize("name", EXERCISE_LABS)
def test_a_mutated_solution_fails_the_check_that_names_it(name, tmp_path):
    lab = labkit.find_lab(name)
    old, new, check = MUTANTS[lab.number]
    solution = exercise.solution_script(lab)
    assert solution.count(old) == 1, f"the mutant's text is not in {name}'s solution"
    path = tmp_path / f"{name}.py"
    path.write_text(solution.replace(old, new))
    module = labkit.import_file(path, f"mutant_{name}")
    found = checks.run_checks(lab.number, vars(module))
    result = grade.score(lab, None, found, full=False)
    failed = [i for i in result["items"] if i["kind"] == "check" and not i["score"]]
    assert [i["check"] for i in failed] == [check], classroom.format_result(
        result | {"submission": name}
    )
    assert f"\u2718 check {check}: " in classroom.format_result(result | {"submission": name})
    # The solution itself passes the same check on fresh inputs.
    good = checks.run_check(lab.number, check, vars(checks.load_reference(lab)))
    assert good["holds"], checks.describe(good)


def test_a_correct_solution_passes_on_seeds_0_to_4(tmp_path):
    lab = labkit.find_lab("01")
    path = tmp_path / "01_linear_regression.py"
    path.write_text(exercise.solution_script(lab))
    for seed in range(5):
        result = grade.grade_one(path, seed=seed)
        assert result["score"] == result["max_score"] > 0, classroom.format_result(result)


def test_static_claims_know_the_maximum_before_any_run():
    claims = exercise.static_claims(labkit.find_lab("01"))
    assert [c["needs_defaults"] for c in claims] == [False, True, True]
    assert claims[0]["claim"].startswith("The normal equation (NumPy and TensorFlow)")


def test_outside_regions_allows_the_exercise_and_nothing_else():
    template = f"a = 1\n# do it\n{exercise.STUB}\nraise NotImplementedError('x')\nb = 2\n"
    filled = "a = 1\n# do it\nc = 3\nd = 4\nb = 2\n"
    assert grade.outside_regions(template, filled) is None
    assert grade.outside_regions(template, filled.replace("b = 2", "b = 3")) == 5
    assert grade.outside_regions(template, filled.replace("a = 1\n", "")) == 1


# --------------------------------------------------------------------------- a class folder


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory) -> Path:
    """Lab 01's submissions, good, blank and broken, in one folder."""
    folder = tmp_path_factory.mktemp("class")
    lab = labkit.find_lab("01")
    nbformat.write(notebook.build(lab, "solution"), folder / "ada_01.ipynb")
    blank = notebook.build(lab, "student")
    nbformat.write(blank, folder / "bob_01.ipynb")
    deleted = nbformat.from_dict(json.loads(json.dumps(blank)))
    deleted.cells = [c for c in deleted.cells if c.id != "01-05"]
    nbformat.write(deleted, folder / "cy_01.ipynb")
    duplicated = nbformat.from_dict(json.loads(json.dumps(blank)))
    duplicated.cells.insert(3, nbformat.from_dict(json.loads(json.dumps(duplicated.cells[3]))))
    nbformat.write(duplicated, folder / "dee_01.ipynb")
    other = notebook.build(labkit.find_lab("12"), "student")
    nbformat.write(other, folder / "eve_01.ipynb")  # lab 12's notebook, handed in for lab 01
    (folder / "fay_01.ipynb").write_text("{ this is not json")
    script = exercise.solution_script(lab)
    (folder / "gus_01.py").write_text(script.replace("theta = tf.linalg.inv(xt @ xb)",
                                                     "theta = tf.linalg.inv(xt @ xb"))  # fmt: skip
    return folder


REASONS = {
    "ada_01.ipynb": None,
    "bob_01.ipynb": None,
    "cy_01.ipynb": "cell 01-05 was deleted",
    "dee_01.ipynb": "appears 2 times",
    "eve_01.ipynb": "a notebook of lab 12, not of lab 01",
    "fay_01.ipynb": "not a readable notebook",
    "gus_01.py": "does not import: SyntaxError",
}


@pytest.mark.timeout(900)  # a killed run and its resumption: kernels that import TensorFlow
@pytest.mark.filterwarnings("ignore:Non-unique cell id")  # the duplicated cell, renamed on write
def test_a_class_is_graded_on_both_cores_resumes_after_a_kill_and_survives_bad_files(
    class_folder, tmp_path
):
    results = tmp_path / "grades"
    cmd = [sys.executable, "-m", "dlcourse", "labs", "grade", str(class_folder), "--lab", "01",
           "--jobs", "2", "--results", str(results), "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(results.glob("*.json"))) < 2:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the grader, its workers and their kernels
    proc.communicate()
    done = {p.name for p in results.glob("*.json")}
    assert len(done) >= 2

    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600).stdout
    graded = {Path(r["submission"]).name: r for r in json.loads(out)}
    assert sorted(graded) == sorted(REASONS)
    assert sum(bool(r.get("reused")) for r in graded.values()) >= len(done) - 1  # not regraded
    for name, reason in REASONS.items():
        r = graded[name]
        if reason:
            assert r["score"] == 0 and reason in r["reason"], (name, r)
    ada, bob = graded["ada_01.ipynb"], graded["bob_01.ipynb"]
    assert ada["score"] == ada["max_score"] == 3, classroom.format_result(ada)
    assert bob["score"] == 0 and bob["max_score"] == 3 and "NotImplementedError" in bob["stopped"]

    # Graded once: a third run reuses every result; the CSV has one row per submission.
    again = subprocess.run([*cmd[:-1], "--csv"], capture_output=True, text=True, check=True)
    rows = again.stdout.strip().splitlines()
    assert rows[0].startswith("submission,lab,score,max_score,reason") and len(rows) == 8


def test_an_endless_submission_times_out_and_scores_zero(tmp_path, capsys):
    lab = labkit.find_lab("01")
    text = exercise.solution_script(lab).replace(
        "    theta = tf.linalg.inv(xt @ xb) @ xt @ yt",
        "    theta = tf.linalg.inv(xt @ xb) @ xt @ yt\n    while True:\n"
        '        __import__("time").sleep(1)',
    )
    path = tmp_path / "01_linear_regression.py"
    path.write_text(text)
    args = ["labs", "grade", str(path), "--timeout", "12", "--results", str(tmp_path / "g")]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "0/3" in out and "timed out after 12 s" in out


def test_max_abs_diff_never_lets_a_wrong_shape_broadcast_into_a_pass():
    assert checks.max_abs_diff([1.0, 2.0], (1.0, 2.5)) == 0.5
    assert checks.max_abs_diff([[0.0], [0.0], [0.0]], [0.0, 0.0, 0.0]) == float("inf")
