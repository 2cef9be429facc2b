"""The command-line error convention, in one place for every entry point.

A user error prints one line, ``error: <message>``, on stderr and exits with

* 2 (usage): a bad flag or argument value: argparse errors, ``ValueError``, ``TypeError``;
* 1 (runtime): anything else that stops the command (a missing file, a failed search, ...);
* 130: Ctrl-C.

No traceback is shown unless ``--debug`` is on the command line or ``DLCOURSE_DEBUG=1`` is set
(``--debug`` sets the variable, so lab subprocesses started by ``dlcourse labs run`` inherit it).
Every ``__main__`` goes through :func:`run_main`; ``labkit.cli`` uses :func:`command_line`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

DEBUG_ENV = "DLCOURSE_DEBUG"
USAGE, RUNTIME, INTERRUPTED = 2, 1, 130
_USER_ERRORS = (ValueError, TypeError, OSError, RuntimeError, KeyError)
_MAX_CHARS = 600  # a framework message can be pages long; --debug shows all of it


class UsageError(ValueError):
    """A bad command line (unknown lab, unknown flag, bad flag value): exit code 2."""


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def strip_debug(argv: Sequence[str]) -> list[str]:
    """Drop ``--debug`` from ``argv`` (before a bare ``--``) and turn debugging on if it was there."""
    argv = list(argv)
    end = argv.index("--") if "--" in argv else len(argv)
    if "--debug" in argv[:end]:
        os.environ[DEBUG_ENV] = "1"
        argv = [a for a in argv[:end] if a != "--debug"] + argv[end:]
    return argv


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line (KeyError's quotes dropped, long text shortened)."""
    msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
    msg = " ".join(str(msg).split()) or type(err).__name__
    if not isinstance(err, _USER_ERRORS):  # a bug rather than a bad input: say what it was
        msg = f"{type(err).__name__}: {msg} (rerun with --debug for the traceback)"
    return msg if len(msg) <= _MAX_CHARS else msg[: _MAX_CHARS - 3] + "..."


def exit_code(err: BaseException) -> int:
    if isinstance(err, KeyboardInterrupt):
        return INTERRUPTED
    return USAGE if isinstance(err, (ValueError, TypeError)) else RUNTIME


def _argparse_error(self: argparse.ArgumentParser, message: str):
    raise UsageError(f"{message} (see {self.prog} --help)")


@contextlib.contextmanager
def command_line() -> Iterator[None]:
    """Apply the convention to the block: argparse errors and exceptions become one line + exit.

    argparse's own ``error`` (usage text plus a message, exit 2) is replaced for the duration,
    so parsers built anywhere (``dlcourse.tuning``, ``dlcourse.bench``, ...) follow it too.
    """
    saved = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = _argparse_error
    try:
        yield
    except (Exception, KeyboardInterrupt) as err:  # noqa: BLE001 (the top level)
        if debug_enabled():
            traceback.print_exc()
        print(
            "error: interrupted"
            if isinstance(err, KeyboardInterrupt)
            else f"error: {one_line(err)}",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(exit_code(err)) from None
    finally:
        argparse.ArgumentParser.error = saved


def run_main(main: Callable[[list[str]], Any], argv: Sequence[str] | None = None) -> int:
    """Run ``main(argv)`` under :func:`command_line`; return its exit code (0 for a non-int).

    ``if __name__ == "__main__": sys.exit(run_main(main))``
    """
    argv = strip_debug(sys.argv[1:] if argv is None else argv)
    try:
        with command_line():
            result = main(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
