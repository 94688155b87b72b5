"""Rule ch_energy: E(t) of one Cahn-Hilliard run with snapshots (the paper's Fig. 1b)."""

from microprop.logs import setup_logging
from microprop.plots import save_figure
from microprop.plots.ch import ch_energy_figure, load_run

sm = snakemake  # noqa: F821 (injected by Snakemake)
log = setup_logging(sm.log[0])

run = load_run(sm.input.run)
fig = ch_energy_figure(run, n_snapshots=sm.params.n_snapshots)
save_figure(fig, sm.output.png)
log.info("wrote %s and %s", sm.output.png, sm.output.pdf)
