"""Figures of the study (matplotlib, no display needed)."""

import matplotlib

matplotlib.use("Agg")
