"""``python -m dlcourse`` / ``dlcourse``: data, labs and report from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dlcourse.errors import UsageError, run_main


def main(argv: Sequence[str] | None = None) -> int:
    """The command line, with the error convention of :mod:`dlcourse.errors` (``--debug``)."""
    return run_main(_main, argv)


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dlcourse", description=__doc__, epilog="--debug: show tracebacks of errors"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_data = sub.add_parser("data", help="write the embedded datasets into data/")
    p_data.add_argument("--data-dir", default=None, help="target folder (default: ./data)")
    p_data.add_argument("--force", action="store_true", help="rewrite even if complete")

    p_labs = sub.add_parser("labs", help="list, describe, run labs; write the report")
    labs_sub = p_labs.add_subparsers(dest="labs_command", required=True)
    p_list = labs_sub.add_parser("list", help="list the registered labs")
    p_list.add_argument(
        "--markdown", action="store_true", help="README's lab table (title, lesson, fit flags)"
    )
    p_desc = labs_sub.add_parser("describe", help="show a lab's header and flags")
    p_desc.add_argument("lab")
    p_run = labs_sub.add_parser(
        "run",
        help="run labs, one process each, then the report",
        epilog="Arguments after a bare -- are passed to every lab, e.g. -- --quick",
    )
    p_run.add_argument("labs", nargs="*", help="lab numbers or names (default with --all: all)")
    p_run.add_argument("--all", action="store_true", help="run every registered lab")
    p_run.add_argument("--out-dir", default="runs", help="where run folders go")
    p_run.add_argument(
        "--force", action="store_true", help="rerun labs whose last run is complete and current"
    )
    p_run.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="labs run at once (each lab's output then goes to log.txt in its run folder)",
    )
    p_check = labs_sub.add_parser(
        "check",
        help="run labs at their defaults (reusing up-to-date runs); exit 1 if a claim fails",
        epilog="Arguments after a bare -- are passed to every lab, e.g. -- --seed 3",
    )
    p_check.add_argument("labs", nargs="*", help="lab numbers or names (default: every lab)")
    p_check.add_argument("--out-dir", default="runs", help="where run folders go")
    p_check.add_argument("--force", action="store_true", help="rerun up-to-date labs too")
    p_check.add_argument("--jobs", type=int, default=1, help="labs run at once")
    p_nb = labs_sub.add_parser(
        "notebook", help="write each lab as a Jupyter notebook (no outputs), from its file"
    )
    p_nb.add_argument("labs", nargs="*", help="lab numbers or names (default: every lab)")
    p_nb.add_argument("--out", default="notebooks", help="folder of the .ipynb files")
    p_rep = labs_sub.add_parser("report", help="rewrite runs/REPORT.md")
    p_rep.add_argument("--out-dir", default="runs")

    # Everything after a bare `--` goes to each lab: `dlcourse labs run 12 -- --epochs 5`.
    lab_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    args = parser.parse_args(argv)
    if args.command == "data":
        from dlcourse.data import write_all

        write_all(args.data_dir, force=args.force)
        return 0

    from dlcourse import labkit, labrun

    if args.labs_command == "list" and args.markdown:
        print(labrun.lab_table())
        return 0
    if args.labs_command == "list":
        for lab in labkit.list_labs():
            print(f"{lab.number}  {lab.name:40s} {lab.title}")
        return 0
    if args.labs_command == "describe":
        print(labkit.describe(_lab(args.lab)))
        return 0
    if args.labs_command == "notebook":
        from dlcourse import notebook

        for path in notebook.write_all([_lab(k) for k in args.labs] or None, args.out):
            print(path)
        return 0
    if args.labs_command == "report":
        print(labrun.write_report(args.out_dir))
        return 0
    if args.labs_command == "check":
        keys = [_lab(k) for k in args.labs] or None
        problems = labrun.check(
            keys, out_dir=args.out_dir, extra_args=lab_args, force=args.force, jobs=args.jobs
        )
        for line in problems:
            print(f"claims: {line}", file=sys.stderr)
        print("every claim holds" if not problems else f"{len(problems)} problem(s), above")
        return 1 if problems else 0
    if not args.labs and not args.all:
        parser.error("name labs to run, or pass --all")
    keys = [_lab(k) for k in args.labs] or None
    results = labrun.run_all(
        keys, out_dir=args.out_dir, extra_args=lab_args, force=args.force, jobs=args.jobs
    )
    codes = [r["returncode"] for r in results]
    if len(codes) == 1:
        return codes[0] if codes[0] >= 0 else 1  # one lab: its own exit code (2: a bad flag)
    return 0 if not any(codes) else 1


def _lab(key: str) -> str:
    """``key`` if it names a lab; an unknown lab is a usage error (exit 2)."""
    from dlcourse import labkit

    try:
        return labkit.find_lab(key).name
    except ValueError as err:
        raise UsageError(str(err)) from None


if __name__ == "__main__":
    sys.exit(main())
