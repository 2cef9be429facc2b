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
    p_ex = labs_sub.add_parser(
        "exercise",
        help="write each lab's student version: notebook and script, solution regions stubbed",
    )
    p_ex.add_argument("labs", nargs="*", help="lab numbers or names (default: every lab)")
    p_ex.add_argument("--out", default="exercises", help="folder of the student files")
    p_ex.add_argument(
        "--nbgrader",
        action="store_true",
        help="write nbgrader source notebooks instead (<out>/source/<lab>/<lab>.ipynb)",
    )
    p_gr = labs_sub.add_parser(
        "grade",
        help="grade submitted notebooks/scripts by the lab's claims and hidden checks",
    )
    p_gr.add_argument("paths", nargs="+", help="submissions (.ipynb, .py) or folders of them")
    p_gr.add_argument("--lab", default=None, help="the lab (default: from each file)")
    p_gr.add_argument("--jobs", type=int, default=2, help="submissions graded at once")
    p_gr.add_argument("--timeout", type=int, default=600, help="seconds per submission")
    p_gr.add_argument("--results", default="grades", help="one JSON per graded submission")
    p_gr.add_argument("--full", action="store_true", help="run at the defaults: every claim")
    p_gr.add_argument("--seed", type=int, default=None, help="the labs' seed (default: theirs)")
    fmt = p_gr.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the results as JSON")
    fmt.add_argument("--csv", action="store_true", help="print one CSV row per submission")
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
    if args.labs_command == "exercise":
        from dlcourse import release

        written, refused = release.write(
            [_lab(k) for k in args.labs] or None, args.out, nbgrader=args.nbgrader
        )
        for path in written:
            print(path)
        for line in refused:
            print(f"not an exercise: {line}", file=sys.stderr)
        return 1 if refused and (args.labs or not written) else 0
    if args.labs_command == "grade":
        import json

        from dlcourse import classroom

        lab = _lab(args.lab) if args.lab else None
        results = classroom.grade_all(
            args.paths, lab_key=lab, jobs=args.jobs, results=args.results,
            timeout=args.timeout, full=args.full, seed=args.seed, progress=_graded,
        )  # fmt: skip
        if args.json:
            print(json.dumps(results, indent=2))
        elif args.csv:
            classroom.write_csv(results, sys.stdout)
        else:
            for result in results:
                print(classroom.format_result(result))
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


def _graded(result: dict) -> None:
    """One line on stderr per submission graded (stdout keeps the report, JSON or CSV)."""
    name = result["submission"]
    print(f"graded {name}: {result['score']}/{result['max_score']}", file=sys.stderr, flush=True)


def _lab(key: str) -> str:
    """``key`` if it names a lab; an unknown lab is a usage error (exit 2)."""
    from dlcourse import labkit

    try:
        return labkit.find_lab(key).name
    except ValueError as err:
        raise UsageError(str(err)) from None


if __name__ == "__main__":
    sys.exit(main())
