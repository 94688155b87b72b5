"""microprop.plots.save_figure: PNG and PDF, each written atomically."""

import matplotlib.pyplot as plt
import pytest
from helpers import assert_figure_drawn

from microprop.plots import save_figure


def test_save_figure_writes_png_and_pdf(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [2, 0, 1])
    save_figure(fig, tmp_path / "fig.png")
    assert_figure_drawn(tmp_path / "fig.png")
    assert (tmp_path / "fig.pdf").read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.pdf", "fig.png"]
    assert not plt.fignum_exists(fig.number)


def test_a_figure_that_fails_to_save_leaves_no_file(tmp_path, monkeypatch):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    real = fig.savefig

    def fail_on_pdf(path, **kwargs):
        real(path, **kwargs)  # the temporary file exists when the error comes
        if kwargs.get("format") == "pdf":
            raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", fail_on_pdf)
    with pytest.raises(RuntimeError, match="disk full"):
        save_figure(fig, tmp_path / "fig.png")
    assert not (tmp_path / "fig.pdf").exists()
    assert not list(tmp_path.glob(".*partial*"))
    assert not plt.fignum_exists(fig.number)
