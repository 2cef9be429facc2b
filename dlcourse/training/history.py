"""The history both training loops return, kept across a kill and a resume.

``fit`` returns one history for the whole run: every epoch, also those trained before an
interruption, and ``time_s`` counting on from where the interrupted run stopped. Each loop
keeps its weights backup its own way (``BackupAndRestore`` for ``model.fit``, a
``CheckpointManager`` for the distributed loop); beside it, :class:`HistoryRecorder` writes
``history.json`` at the end of every epoch, *before* the weights are saved, so after a kill
the history is at most one epoch ahead of the weights and :func:`restore` cuts it back.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras

from dlcourse.utils import write_json

HISTORY_FILE = "history.json"


def restore(backup_dir: Path | None, epochs_done: int) -> dict[str, list[float]]:
    """The saved history of the first ``epochs_done`` epochs (``{}`` when there is none)."""
    path = None if backup_dir is None else Path(backup_dir) / HISTORY_FILE
    if not epochs_done or path is None or not path.exists():
        return {}
    saved = json.loads(path.read_text())
    return {k: v[:epochs_done] for k, v in saved.items()}


def announce(epochs_done: int, epochs: int, backup_dir: Path) -> None:
    """Say that a run resumes (the chief prints it, whatever ``verbose`` is)."""
    print(
        f"resuming from epoch {epochs_done + 1} of {epochs} "
        f"({epochs_done} completed, restored from {backup_dir})",
        flush=True,
    )


class HistoryRecorder(keras.callbacks.Callback):
    """Appends each epoch's logs and ``time_s`` to ``history``; saves it to ``path``.

    Args:
        history: the restored history of the completed epochs (continued, not replaced).
        path: where to write the history after every epoch (None: keep it in memory only).
    """

    def __init__(self, history: dict[str, list[float]] | None = None, path: Path | None = None):
        super().__init__()
        self.history = {k: list(v) for k, v in (history or {}).items()}
        self.path = path
        self.offset = self.history["time_s"][-1] if self.history.get("time_s") else 0.0

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        elapsed = round(self.offset + time.perf_counter() - self.start, 3)
        self.history.setdefault("time_s", []).append(elapsed)
        if self.path is not None:
            write_json(self.path, self.history)
