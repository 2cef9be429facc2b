"""Every lab's claims hold when the lab itself runs at its defaults (slow: ``make check``).

The quick runs (test_labs.py) assert each lab's claims that hold at quick settings; the claims
marked ``needs_defaults`` are asserted here, by running the lab's own ``run()`` at its default
settings. These tests are marked slow: ``make test`` skips them, ``pytest -m slow`` (or
``make check``, which runs every lab as ``make labs`` does) runs them.
"""

from __future__ import annotations

import pytest

from dlcourse import labkit

LABS = [lab.name for lab in labkit.list_labs()]


@pytest.mark.slow
@pytest.mark.parametrize("name", LABS)
def test_claims_hold_at_the_defaults(name, tmp_path):
    metrics = labkit.run_lab(name, out_dir=str(tmp_path))
    assert metrics["claims"], f"{name} states no claims"
    assert not labkit.failed_claims(metrics), labkit.format_claims(metrics)
