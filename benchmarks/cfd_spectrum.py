"""Kolmogorov flow: when is it statistically steady, and does the grid resolve it?

    .venv/bin/python benchmarks/cfd_spectrum.py [--re 20 100 400 800] [--time 40] [--filter 0]

For each Re (the default config's other settings; one core): the enstrophy <omega^2>/2
every 2 time units from the random start (spin-up), and the enstrophy spectrum averaged
over the second half, printed relative to its peak at k = 1, 2, 4, 8, 16, 21 (the 2/3
dealiasing cutoff of 64^2) and 24. A resolved run falls by orders of magnitude before
the cutoff; an under-resolved one stays flat there.
"""

import argparse
import dataclasses
import json
import os


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--re", type=float, nargs="+", default=[20.0, 100.0, 400.0, 800.0])
    ap.add_argument("--time", type=float, default=40.0)
    ap.add_argument("--filter", type=int, choices=[0, 1], default=0)
    ap.add_argument("--resolution", type=int, default=64)
    args = ap.parse_args()
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

    import numpy as np

    from microprop.cfd import CFDParams, Simulator, enstrophy_spectrum

    p = dataclasses.replace(CFDParams(), filter=bool(args.filter), resolution=args.resolution)
    every = round(2.0 / p.time_step)
    n = round(args.time / p.time_step) // every * every
    sim = Simulator(p, n_steps=n, every=every)
    shells = [k for k in (1, 2, 4, 8, 16, 21, 24, 32) if k <= p.resolution // 2]
    out = {"resolution": p.resolution, "filter": p.filter, "shells": shells, "runs": {}}
    for re in args.re:
        traj = sim.trajectory(re, seed=0)
        w = np.fft.irfftn(traj, axes=(1, 2))
        enstrophy = 0.5 * np.mean(w**2, axis=(1, 2))
        spec = enstrophy_spectrum(p, traj[len(traj) // 2 :])
        rel = spec / spec.max()
        out["runs"][str(re)] = {
            "enstrophy_every_2": np.round(enstrophy, 3).tolist(),
            "spectrum_relative": [float(f"{rel[k]:.3g}") for k in shells],
        }
        print(f"Re {re:g}: enstrophy every 2 time units {np.round(enstrophy, 1).tolist()}")
        print("  spectrum / peak at k " + ", ".join(f"{k}: {rel[k]:.2g}" for k in shells))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
