"""The lab convention: headers, configs, quick mode, flags, the report, run_all.

Every lab's quick run (outputs, claims) is its notebook's, in tests/test_notebook.py."""

from __future__ import annotations

import dataclasses
import typing

import numpy as np
import pytest

from dlcourse import labkit, labrun


def test_every_lab_has_a_header_and_a_config():
    for lab in labkit.list_labs():
        assert lab.header.get("Title") and lab.header.get("Unit"), lab.name
        module = labkit.load_lab(lab.name)
        assert issubclass(module.Config, labkit.LabConfig), lab.name
        assert module.Config.__dataclass_params__.frozen, lab.name


def test_quick_mode_is_a_config_override_and_numbers_are_checked():
    for lab in labkit.list_labs():
        config = labkit.load_lab(lab.name).Config
        quick = config(quick=True)
        assert all(getattr(quick, k) == v for k, v in config.QUICK.items()), lab.name
        hints = typing.get_type_hints(config)
        for f in dataclasses.fields(config):
            hint = hints[f.name]
            numeric = hint in (int, float, tuple) or typing.get_origin(hint) is tuple
            declared = f.metadata.get("check") is not None or f.metadata.get("choices")
            assert not numeric or declared, f"{lab.name}: field {f.name} declares no check"
    with pytest.raises(ValueError, match="Received: epochs=-1"):  # checked before quick applies
        labkit.load_lab("13").Config(quick=True, epochs=-1)


def test_a_value_passed_with_quick_is_kept(capsys):
    lab = labkit.load_lab("13")
    assert lab.Config.QUICK["epochs"] == 2
    assert lab.Config(quick=True, epochs=3).epochs == 3
    default = lab.Config().epochs  # given as a flag, even the default value wins over QUICK
    seen = {}

    def run(cfg):
        seen.update(epochs=cfg.epochs, n_train=cfg.n_train)
        return {"claims": []}

    labkit.cli(run, lab.Config, None, ["--quick", "--epochs", str(default)])
    assert seen == {"epochs": default, "n_train": lab.Config.QUICK["n_train"]}


@pytest.fixture(scope="module")
def lab01(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return out, labkit.run_lab("01", quick=True, out_dir=str(out))


def test_linear_regression_matches_sklearn(lab01):
    _, m = lab01
    diffs = m["max_abs_diff_vs_sklearn"]
    assert diffs["normal_equation_numpy"] < 1e-9
    assert diffs["normal_equation_tf"] < 1e-9
    assert m["diabetes"]["max_abs_diff_vs_sklearn"] < 1e-6
    # Noise has unit variance, so a good fit has test RMSE near 1.
    assert 0.7 < m["normal_equation_numpy"]["test_rmse"] < 1.3


def test_unknown_lab_lists_known_ones():
    with pytest.raises(ValueError, match=r"Received: lab='99'; expected a lab number \(01, 02, "):
        labkit.find_lab("99")


def test_report_links_metrics_and_figures(lab01):
    out, _ = lab01
    report = labrun.write_report(str(out)).read_text()
    assert "01_linear_regression/gd_paths.png" in report
    assert "normal_equation_numpy.test_rmse" in report


def test_cli_flags_come_from_the_config():
    text = labkit.describe("01")
    assert "--eta" in text and "batch GD learning rate" in text and "--quick" in text


def test_run_all_isolates_a_failing_lab_and_reports_it(tmp_path, capfd):
    # Make this process big first: the child's peak RSS must be its own, not inherited from us
    # (Linux's ru_maxrss carries the parent's high-water mark across fork and exec).
    ballast = np.ones(256 * 2**20 * 6 // 8)  # 1.5 GiB, touched
    parent_peak = labkit.peak_rss_mb()
    # A bad flag value stops the lab before any work: exit 2, one error line, and in a new
    # output folder nothing at all is left behind (no run folder, no report).
    out = tmp_path / "runs"
    results = labrun.run_all(["01"], out_dir=str(out), extra_args=["--quick", "--eta", "-1"])
    del ballast
    assert results[0]["returncode"] == 2
    assert 50 < results[0]["peak_rss_mb"] < parent_peak - 1000
    stdout, err = capfd.readouterr()
    assert "error: `eta` must be > 0. Received: eta=-1.0 (flag --eta)" in err
    assert "Traceback" not in err and "failed labs: 01_linear_regression" in stdout
    assert not out.exists()
