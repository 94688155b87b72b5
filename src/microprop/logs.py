"""Logging for rule scripts: one log file per job, and progress lines with rate and ETA."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("microprop")


def setup_logging(path: str | None = None, level: int = logging.INFO) -> logging.Logger:
    """Send microprop's log records to ``path`` (the rule's log) and to stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        handlers.append(logging.FileHandler(path, mode="w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    sys.excepthook = _log_uncaught
    return log


def _log_uncaught(exc_type, exc, tb) -> None:
    """Write an uncaught exception with its traceback to the log, so the job's log says
    why it failed (Snakemake shows the log path of a failed job)."""
    if not issubclass(exc_type, KeyboardInterrupt):
        log.critical("job failed: %s", exc, exc_info=(exc_type, exc, tb))
    sys.__excepthook__(exc_type, exc, tb)


class Progress:
    """Log ``done/total``, rate and ETA at most every ``every`` seconds.

    >>> p = Progress(10, "images", every=0.0, logger=logging.getLogger("doctest"))
    >>> p.update(5)
    >>> p.done
    5
    """

    def __init__(self, total: int, unit: str = "steps", every: float = 10.0, logger=None):
        self.total, self.unit, self.every = total, unit, every
        self.logger = logger or log
        self.done = 0
        self.start = self.last = time.perf_counter()

    def update(self, n: int = 1, extra: str = "") -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            self.logger.info(
                "%d/%d %s, %.3g %s/s, ETA %.0f s%s",
                self.done,
                self.total,
                self.unit,
                rate,
                self.unit,
                eta,
                f", {extra}" if extra else "",
            )
