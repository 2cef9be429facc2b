"""1 vs 2 workers on loopback: MultiWorkerMirroredStrategy processes on 127.0.0.1.

The Unit II MLP on digits28 with the same global batch (64) and seed on a 1-worker and a
2-worker cluster: global steps per second (training time only, TensorFlow start-up excluded),
wall time including start-up, final validation accuracy, and whether the workers ended with
bit-identical weights; then the 2-worker weights against a single-process run of the same job.
On one machine the workers share its cores, so this measures the mechanics (all-reduce cost),
not a speed-up.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from dlcourse.bench import Table
from dlcourse.training import distributed as dist


def run(quick: bool = False) -> list[Table]:
    with tempfile.TemporaryDirectory() as tmp:
        # DATA sharding: the workers see exactly one process's global batches (see below).
        job = dist.Job(
            epochs=1 if quick else 5, limit=256 if quick else 0, sharding="data", out_dir=tmp
        )
        rows = dist.compare_workers((1, 2), job, timeout=300)  # lab 70's experiment
        one, two = rows
        table = Table(
            "1 vs 2 workers on loopback (MLP on digits28, global batch 64)",
            [
                "workers",
                "steps/s",
                "train s",
                "wall s (incl. start-up)",
                "final val accuracy",
                "identical weights",
            ],
            [
                [
                    r["workers"],
                    r["steps_per_s"],
                    r["train_s"],
                    r["wall_s"],
                    r["val_accuracy"],
                    "yes" if r["identical_weights"] else "NO",
                ]
                for r in rows
            ],
            notes=[
                (
                    f"2-worker / 1-worker steps/s: {two['steps_per_s'] / one['steps_per_s']:.2f} "
                    f"({job.epochs} epoch(s), {one['iterations']} steps each)."
                ),
            ],
        )
        ref_job = job.replace(out_dir=f"{tmp}/single")
        ref = dist.train_worker(ref_job, strategy="default", loop="custom")
        diff = dist.max_weight_difference(
            two["weights"], Path(tmp) / "single" / "weights_worker0.npz"
        )
        check = Table(
            "2 workers vs one process (same global batch, seed and data order)",
            ["run", "final val accuracy", "max abs weight difference"],
            [
                ["2 workers", two["val_accuracy"], diff],
                ["1 process, 1 device", ref["history"]["val_accuracy"][-1], 0.0],
            ],
            notes=[
                (
                    "The test suite asserts the difference stays below 1e-4 (float32 rounding "
                    "of two half-batch gradient sums)."
                )
            ],
        )
    return [table, check]
