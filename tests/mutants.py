"""Mutation check (``make mutants``): break one tested function at a time, expect a red test.

Each mutant replaces one snippet of library code by a wrong one (a flipped comparison, a
changed constant, a dropped stage ...) and names the tests that should catch it. For each,
this script copies the repository's files (``git ls-files``: tracked and untracked, not
ignored) into a fresh temporary folder, applies the mutant there and runs those tests with
``pytest -x -p no:xdist`` on the copy. The checkout itself is never written, so neither a
failure nor Ctrl-C can leave it mutated. The same tests first run once on an unmutated copy:
a mutant only counts as caught when they pass without it.

    python tests/mutants.py            # every mutant; exit 1 if one survives
    python tests/mutants.py --only lrn-default-bias maxnorm-flip
    python tests/mutants.py --list

Exit codes: 0 every mutant caught, 1 one survived (or the unmutated tests fail), 2 a mutant's
snippet is no longer in its file (update this table).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    old: str  # must occur exactly once in the file
    new: str
    test_file: str  # the tests that should catch it: a file ...
    k: str  # ... and a pytest -k expression


MUTANTS = (
    Mutant(
        "maxnorm-flip",  # clip only norms *below* r: max-norm stops clipping
        "dlcourse/layers/maxnorm.py",
        "scale = ops.minimum(1.0, max_value",
        "scale = ops.maximum(1.0, max_value",
        "tests/test_unit3_layers.py",
        "max_norm",
    ),
    Mutant(
        "lrn-default-bias",  # the default k of the LRN layer no longer TF's (and the paper's)
        "dlcourse/layers/lrn.py",
        "bias: float = 1.0,",
        "bias: float = 2.0,",
        "tests/test_unit3_layers.py",
        "lrn",
    ),
    Mutant(
        "c2f-no-shrink",  # coarse-to-fine never narrows its region
        "dlcourse/tuning/coarse_to_fine.py",
        "self.width *= self.shrink",
        "self.width *= 1.0",
        "tests/test_tuning.py",
        "coarse_to_fine_narrows",
    ),
    Mutant(
        "loader-no-shuffle",  # the loader's shuffle stage dropped
        "dlcourse/data/loader.py",
        "ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)",
        "ds = ds",
        "tests/test_loader.py",
        "shuffle",
    ),
    Mutant(
        "ewma-no-bias-correction",  # bias correction silently off
        "dlcourse/training/diagnostics.py",
        "out[t - 1] = v / (1 - beta**t) if bias_correction else v",
        "out[t - 1] = v",
        "tests/test_unit3_misc.py",
        "ewma",
    ),
    Mutant(
        "scratch-adam-bias",  # the NumPy Adam twin forgets the second moment's correction
        "dlcourse/scratch/optimizers.py",
        "alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)",
        "alpha = lr / (1 - b1**t)",
        "tests/test_unit3_optim.py",
        "adam",
    ),
    Mutant(
        "atomic-write-leaves-tmp",  # a failed write leaves its temporary file behind
        "dlcourse/utils.py",
        "        tmp.unlink(missing_ok=True)",
        "        pass",
        "tests/test_data_files.py",
        "atomic or failure_midway",
    ),
    Mutant(
        "workers-without-chief",  # a TF_CONFIG chief no longer counts as a worker
        "dlcourse/launch.py",
        'TASK_TYPES = ("worker", "chief")',
        'TASK_TYPES = ("worker",)',
        "tests/test_launch.py",
        "workers",
    ),
    Mutant(
        "augment-not-per-batch",  # the Keras augmenter mapped per example (unseeded order)
        "dlcourse/data/augment.py",
        "per_batch = True  # the loader applies it",
        "per_batch = False  # the loader applies it",
        "tests/test_loader.py",
        "keras_layers_augmenter",
    ),
)


def _repo_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [f for f in out.decode().split("\0") if f and (ROOT / f).is_file()]


def _copy(files: list[str], dest: Path) -> None:
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)


def _pytest(copy: Path, tests: tuple[str, ...], timeout: int) -> tuple[int, str]:
    """Run ``tests`` on ``copy``; returns (pytest exit code, last output line)."""
    env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
           "-o", "addopts=", "-m", "not slow", *tests]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout} s"
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return proc.returncode, lines[-1] if lines else proc.stderr.strip()[-200:]


def check_snippets(mutants) -> list[str]:
    """Mutants whose snippet is not exactly once in its file (stale table entries)."""
    bad = []
    for m in mutants:
        count = (ROOT / m.path).read_text().count(m.old)
        if count != 1:
            bad.append(f"{m.name}: {m.old!r} occurs {count} times in {m.path}")
    return bad


def run(mutants, timeout: int) -> int:
    stale = check_snippets(mutants)
    if stale:
        print("stale mutants (update tests/mutants.py):\n  " + "\n  ".join(stale))
        return 2
    files = _repo_files()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dlcourse-mutants-") as tmp:
        clean = Path(tmp) / "clean"
        _copy(files, clean)
        files_ = sorted({m.test_file for m in mutants})
        k = " or ".join(f"({m.k})" for m in mutants)
        code, last = _pytest(clean, (*files_, "-k", k), timeout * 2)
        print(f"unmutated  {'pass' if code == 0 else 'FAIL'}  {last}", flush=True)
        if code != 0:
            print("the tests fail without any mutant: fix them first")
            return 1
        survived = []
        for m in mutants:
            copy = Path(tmp) / m.name
            _copy(files, copy)
            target = copy / m.path
            target.write_text(target.read_text().replace(m.old, m.new))
            t0 = time.monotonic()
            code, last = _pytest(copy, (m.test_file, "-k", m.k), timeout)
            caught = code == 1  # a test failed; 5 (no test ran), 124 (timeout) are not catches
            if not caught:
                survived.append(m.name)
            verdict = "caught  " if caught else "SURVIVED"
            print(f"{m.name:26} {verdict} {time.monotonic() - t0:5.0f} s  {last}", flush=True)
            shutil.rmtree(copy, ignore_errors=True)
    total = time.monotonic() - start
    print(f"{len(mutants) - len(survived)}/{len(mutants)} mutants caught in {total:.0f} s")
    if survived:
        print("survived: " + ", ".join(survived))
    return 1 if survived else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per pytest run")
    args = parser.parse_args(argv)
    names = {m.name for m in MUTANTS}
    unknown = sorted(set(args.only or ()) - names)
    if unknown:
        parser.error(f"unknown mutant(s) {unknown}; known: {sorted(names)}")
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.list:
        for m in mutants:
            print(f"{m.name:26} {m.path}: {m.old!r} -> {m.new!r}  [{m.test_file} -k {m.k}]")
        return 0
    try:
        return run(mutants, args.timeout)
    except KeyboardInterrupt:
        print("interrupted: the checkout was never modified (mutants live in a temp copy)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
