"""The docs are true: README.md and docs/*.md name only paths, commands and figures that hold.

* every ``labs/NN_*.py`` path exists, and every test a link names is in its file;
* every ``make`` target exists in the Makefile (and ``make -n`` accepts the command), and every
  flag a doc passes to a lab (``make lab L=NN ARGS='--x 1'``) is one of that lab's flags;
* every ``python -m dlcourse...`` command parses (``--help`` exits 0), and so does every lab
  script the docs run with ``--help``;
* README's Python blocks run as written, in order, in one fresh interpreter;
* a figure README quotes from BENCHMARKS.md (a link to it whose text holds a number) is the one
  in the section it links to, and README states no other measured figure (times, ratios,
  throughputs): those live in BENCHMARKS.md only;
* README's lab table is what :func:`dlcourse.labrun.lab_table` writes from the labs' headers
  and Configs (so its ``fit`` flags column says exactly which labs take those flags);
* a run on a machine without a GPU prints no CUDA initialisation error.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dlcourse
from dlcourse import labkit, labrun

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BENCHMARKS = ROOT / "BENCHMARKS.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]


def _text(path: Path) -> str:
    return path.read_text()


def _code_blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.DOTALL | re.MULTILINE)


def _doc_ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("doc", DOCS, ids=_doc_ids(DOCS))
def test_every_lab_path_exists(doc):
    named = set(re.findall(r"labs/\d\d_\w+\.py", _text(doc)))
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, f"{doc.name} names labs that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=_doc_ids(DOCS))
def test_every_linked_test_exists(doc):
    """``[test_name](../tests/test_file.py)``: the test is defined in that file."""
    links = re.findall(r"\[(test_\w+)\]\((?:\.\./)?(tests/test_\w+\.py)\)", _text(doc))
    missing = [
        f"{name} in {path}"
        for name, path in links
        if not re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.MULTILINE)
    ]
    assert not missing, f"{doc.name} links tests that do not exist: {missing}"


# --------------------------------------------------------------------------- commands


def _make_commands(text: str) -> list[str]:
    found = re.findall(r"`(make [^`]+)`", text)
    for block in _code_blocks(text, "bash"):
        found += [line.split("#")[0].strip() for line in block.splitlines()]
    return sorted({c for c in found if c.startswith("make ")})


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


MAKE_COMMANDS = sorted({c for doc in DOCS for c in _make_commands(_text(doc))})


@pytest.mark.parametrize("command", MAKE_COMMANDS)
def test_every_make_command_names_a_target(command):
    words = shlex.split(command)[1:]
    targets = [w for w in words if "=" not in w and not w.startswith("-")]
    assert targets, command
    assert set(targets) <= _make_targets(), f"{command}: no such target in the Makefile"
    if shutil.which("make"):
        dry = subprocess.run(
            ["make", "-n", *words], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert dry.returncode == 0, dry.stderr


def _lab_flags_named() -> list[tuple[str, str]]:
    """(lab, flag) for each flag a doc passes to one lab: ``make lab L=NN ARGS='--x 1'``."""
    pairs = set()
    for command in MAKE_COMMANDS:
        words = dict(w.split("=", 1) for w in shlex.split(command) if "=" in w)
        if "lab" in shlex.split(command) and "L" in words and "NN" not in words["L"]:
            pairs |= {(words["L"], f) for f in re.findall(r"--[\w-]+", words.get("ARGS", ""))}
    return sorted(pairs)


@pytest.mark.parametrize("lab, flag", _lab_flags_named())
def test_every_flag_passed_to_a_lab_exists(lab, flag):
    assert flag in labkit.describe(lab), f"lab {lab} has no flag {flag}"


def _module_commands(text: str) -> set[tuple[str, ...]]:
    """``python -m dlcourse...`` commands, cut at a bare ``--``, a comment or ``[options]``."""
    found = set()
    for m in re.finditer(r"python -m (dlcourse[\w.]*)(?!:)([^`\n#|)]*)", text):
        words = []
        for word in m[2].split():
            if word == "--" or word.startswith(("[", "'", '"')):
                break
            words.append(word)
        found.add((m[1], *words))
    return found


MODULE_COMMANDS = sorted({c for doc in DOCS for c in _module_commands(_text(doc))})


@pytest.mark.parametrize("command", MODULE_COMMANDS, ids=" ".join)
def test_every_python_m_dlcourse_command_parses(command):
    module, *words = command
    proc = subprocess.run(
        [sys.executable, "-m", module, *words, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"python -m {' '.join(command)} --help:\n{proc.stderr[-2000:]}"


LAB_HELP = sorted({p for d in DOCS for p in re.findall(r"(labs/\d\d_\w+\.py) --help", _text(d))})


@pytest.mark.parametrize("path", LAB_HELP)
def test_every_lab_help_command_works(path):
    proc = subprocess.run(
        [sys.executable, path, "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--seed" in proc.stdout


# --------------------------------------------------------------------------- Python blocks


def test_readme_python_blocks_run_in_order_in_one_fresh_interpreter(tmp_path):
    """As written; in a scratch folder, so the labs' runs/ go there (data: DLCOURSE_DATA_DIR or
    the repository's data/, written on first use)."""
    blocks = _code_blocks(_text(README), "python")
    assert blocks
    script = tmp_path / "readme_blocks.py"
    script.write_text("\n".join(blocks))
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


# --------------------------------------------------------------------------- figures

# What a measurement looks like in prose: a duration, a speed, or a ratio such as 1.02x.
MEASURED = re.compile(
    r"\b\d+(?:[.,]\d+)?(?:\s*[-–]\s*\d+(?:\.\d+)?)?\s*"
    r"(?:s|sec|seconds?|min|minutes?|hours?|ms|ex/s|examples/s|steps/s|images/s)\b"
    r"|\b\d+\.\d+\s*[×x](?![\d\w])"
)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _bench_sections() -> dict[str, str]:
    """BENCHMARKS.md split at its headings: anchor -> text up to the next heading of any level
    at or above it (a topic's section includes its tables)."""
    text = _text(BENCHMARKS)
    heads = list(re.finditer(r"^(#{1,3}) (.+)$", text, re.MULTILINE))
    sections = {}
    for i, h in enumerate(heads):
        level = len(h[1])
        end = next((n.start() for n in heads[i + 1 :] if len(n[1]) <= level), len(text))
        sections[_slug(h[2])] = text[h.start() : end]
    return sections


def _prose(text: str) -> str:
    """README without code blocks, inline code and HTML comments."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.DOTALL | re.MULTILINE)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    return re.sub(r"`[^`]*`", "", text)


def test_readme_links_into_benchmarks_resolve():
    sections = _bench_sections()
    anchors = re.findall(r"\]\(BENCHMARKS\.md#([\w-]+)\)", _text(README))
    missing = sorted(set(anchors) - set(sections))
    assert not missing, f"README links to BENCHMARKS.md sections that do not exist: {missing}"


def test_readme_quotes_benchmark_figures_as_they_are_there():
    """A figure in a link to BENCHMARKS.md (``[0.988×](BENCHMARKS.md#loader)``) must appear in
    that section; every other measured figure in README's prose is refused."""
    sections = _bench_sections()
    prose = _prose(_text(README))
    wrong = []
    for label, anchor in re.findall(r"\[([^\]]*\d[^\]]*)\]\(BENCHMARKS\.md#([\w-]+)\)", prose):
        for number in re.findall(r"\d+(?:[.,]\d+)*", label):
            if number not in sections.get(anchor, ""):
                wrong.append(f"{label!r}: {number} is not in BENCHMARKS.md#{anchor}")
    assert not wrong, wrong
    unquoted = re.sub(r"\[[^\]]*\]\(BENCHMARKS\.md[^)]*\)", "", prose)
    stray = [m[0] for m in MEASURED.finditer(unquoted)]
    assert not stray, (
        f"README states measured figures {stray} outside a link to BENCHMARKS.md: link to the "
        "section that measured them (or quote the figure as the link's text)"
    )


def test_the_figure_guard_catches_times_and_ratios():
    for text in ("took 9.7 minutes", "1.02× the feed", "in 581 s", "5.7–6.7 minutes", "0.9x"):
        assert MEASURED.search(text), text
    for text in ("8×8 digits", "28×28×1", "70 % train", "exit code 2", "0.73 G multiply-adds"):
        assert not MEASURED.search(text), text


# --------------------------------------------------------------------------- the lab table


def _readme_lab_table() -> str:
    text = _text(README)
    start, end = (text.index(m) for m in labrun.LAB_TABLE)
    return text[start + len(labrun.LAB_TABLE[0]) : end].strip()


def test_readme_lab_table_matches_the_labs():
    """Numbers, titles, lessons and the ``fit`` flags column, from the labs themselves.
    After a lab changes: ``python -c "from dlcourse import labrun; labrun.write_lab_table()"``."""
    assert _readme_lab_table() == labrun.lab_table()


def test_the_labs_readme_names_as_training_their_own_way_take_no_fit_flags():
    paragraph = next(p for p in _text(README).split("\n\n") if "do not take these flags" in p)
    named = re.findall(r"lab (\d\d)", paragraph)
    assert named
    for number in named:
        assert not labrun.takes_fit_flags(labkit.find_lab(number)), number


def test_a_lab_takes_fit_flags_iff_its_config_is_a_train_config():
    for lab in labkit.list_labs():
        help_text = labkit.describe(lab.name)
        flags = ("--strategy", "--precision", "--jit-compile", "--steps-per-execution")
        assert all(f in help_text for f in flags) == labrun.takes_fit_flags(lab), lab.name


# --------------------------------------------------------------------------- a quiet CPU run


def test_tf_environment_on_a_machine_without_a_gpu(monkeypatch):
    monkeypatch.setattr(dlcourse, "gpu_possible", lambda environ: False)
    assert dlcourse.tf_environment({}) == {
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_ENABLED_DEVICE_TYPES": "CPU",
    }
    # The user's own settings win.
    mine = {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_ENABLED_DEVICE_TYPES": "CPU,GPU"}
    assert dlcourse.tf_environment(mine) == {}


def test_tf_environment_leaves_a_gpu_machine_alone(monkeypatch):
    monkeypatch.setattr(dlcourse, "gpu_possible", lambda environ: True)
    assert dlcourse.tf_environment({}) == {"TF_CPP_MIN_LOG_LEVEL": "2"}


def test_hidden_gpus_count_as_none():
    assert not dlcourse.gpu_possible({"CUDA_VISIBLE_DEVICES": ""})
    assert not dlcourse.gpu_possible({"CUDA_VISIBLE_DEVICES": "-1"})


@pytest.mark.skipif(dlcourse.gpu_possible(), reason="this machine may have a GPU")
def test_no_cuda_error_line_without_a_gpu():
    """What a lab does first (import dlcourse, list devices) prints no cuInit error."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    code = "import dlcourse, tensorflow as tf; print(tf.config.list_physical_devices())"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "CPU" in proc.stdout
    assert "cuInit" not in proc.stderr and "E0000" not in proc.stderr, proc.stderr
