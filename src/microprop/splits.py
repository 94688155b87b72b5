"""Every split and subset of the data, and the named random streams they draw from.

Which images a model trains on (:func:`training_subset`, :func:`capped_subset`), which
test images score it (:func:`evaluation_subset`), the dataset's test split
(:func:`stratified_test_split`), the SVR search's subsample (:func:`subsample`), the
conformal calibration rows (:func:`split_rows`, :func:`residual_split`) and the CV folds
(:func:`fold_pairs`) live here, so a change of one cannot silently shift another.

Each draw comes from a named stream, :func:`stream`: numpy's generator seeded with the
entropy ``[seed, STREAMS[name]]``. The numbers are the ones these draws always used, so
results are reproduced exactly; two pairs of streams share a number (training_subset and
augmentation; test_split and search_subsample) because they always did, and changing
either would change the results. A new stream takes a new number. The simulations seed
per image or run instead (microprop.ising, microprop.cfd, microprop.ch.protocol).
"""

from __future__ import annotations

import math

import numpy as np

STREAMS = {
    "training_subset": 1,  # the images a training fraction uses (nested over fractions)
    "augmentation": 1,  # a CNN's random symmetry transforms (microprop.models.cnn)
    "test_split": 2,  # the stratified Ising and CFD test split (microprop.dataset)
    "search_subsample": 2,  # the SVR search's subsample (microprop.models.svr)
    "calibration": 3,  # the conformal calibration rows (split_rows)
    "residual_scale": 4,  # the calibration pairs that fit the residual scale
    "training_pool": 5,  # the CH training images a capped dataset keeps (microprop.dataset)
    "design_start": 19,  # the latent design's random starts (microprop.design)
    "design_pixel": 20,  # the pixel design's random starts
    "design_prior": 21,  # codes drawn from the prior for the property model
}


def stream(name: str, seed: int) -> np.random.Generator:
    """The random generator of a named stream for ``seed``.

    >>> stream("training_subset", 0).permutation(5).tolist() == (
    ...     np.random.default_rng([0, 1]).permutation(5).tolist())
    True
    """
    return np.random.default_rng([seed, STREAMS[name]])


def training_subset(train_idx: np.ndarray, frac: float, seed: int) -> np.ndarray:
    """The first ceil(frac * n) of a seeded permutation of the training indices.

    Subsets of one seed are nested: a smaller fraction is a prefix of a larger one.

    >>> idx = np.arange(100)
    >>> small, large = training_subset(idx, 0.1, 0), training_subset(idx, 0.5, 0)
    >>> len(small), len(large), bool(np.isin(small, large).all())
    (10, 50, True)
    """
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"training fraction must be in (0, 1], got {frac}")
    n = max(1, math.ceil(frac * len(train_idx) - 1e-9))
    perm = stream("training_subset", seed).permutation(len(train_idx))
    return np.sort(np.asarray(train_idx)[perm[:n]])


def training_pool(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The ``n`` of ``rows`` (sorted) that a dataset capped at ``n`` training images keeps
    for training, a seeded uniform draw (all of them when ``n`` is 0 or not smaller).

    >>> pool = training_pool(np.arange(100), 10, 0)
    >>> len(pool), bool(np.all(np.diff(pool) > 0)), len(training_pool(np.arange(5), 10, 0))
    (10, True, 5)
    """
    rows = np.asarray(rows)
    if not n or len(rows) <= n:
        return rows
    return np.sort(stream("training_pool", seed).choice(rows, size=n, replace=False))


def capped_subset(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most ``n`` of ``rows``: a seeded :func:`training_subset` of them when there are
    more (a compute budget), all of them when fewer or ``n`` = 0.

    >>> capped_subset(np.arange(10), 0, 0).tolist() == list(range(10))
    True
    >>> len(capped_subset(np.arange(10), 4, 0)), len(capped_subset(np.arange(3), 4, 0))
    (4, 3)
    """
    return training_subset(rows, n / len(rows), seed) if n and len(rows) > n else rows


def evaluation_subset(
    test_idx: np.ndarray, max_test: int, runs=None, steps=None
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_test`` test indices and their weights (0: every image, weight 1).

    The weights (how many test images each scored one stands for) sum to the size of the
    test split, so weighted means estimate the means over the whole split. Deterministic:
    every model, fraction and seed is scored on the same images.

    Without ``runs``: evenly spaced over the test split, equal weights (Ising, CFD: the
    errors are spread over many images). With the run and step of every dataset row (CH,
    whose test split is whole runs and whose RMSE is dominated by the first snapshots of
    each run, where the energy falls fastest): a stratified sample. Each run's test
    images, in step order, are cut into strata of doubling length (1, 1, 2, 4, 8, ...);
    every stratum gives the same number m of evenly spaced images (all of a smaller one),
    each weighted by its stratum's size over m, with m the largest that keeps the total
    within ``max_test``. So the first snapshots are all scored, and the long late part of
    a run, where the label changes slowly, is sampled (benchmarks/test_subset.py measures
    the estimate against every test image).

    >>> idx, w = evaluation_subset(np.arange(100, 110), 4)
    >>> idx.tolist(), w.tolist()
    ([100, 103, 106, 109], [2.5, 2.5, 2.5, 2.5])
    >>> idx, w = evaluation_subset(np.arange(16), 9, runs=np.zeros(16), steps=np.arange(16))
    >>> idx.tolist(), w.tolist()
    ([0, 1, 2, 3, 4, 7, 8, 15], [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0])
    >>> len(evaluation_subset(np.arange(10), 0)[0]), len(evaluation_subset(np.arange(10), 20)[0])
    (10, 10)
    """
    test_idx = np.asarray(test_idx)
    if max_test < 0:
        raise ValueError(f"max_test must be >= 0 (0: every test image), got {max_test}")
    if (runs is None) != (steps is None):
        raise ValueError("a stratified test subset needs both the run and the step of every row")
    if not max_test or len(test_idx) <= max_test:
        return test_idx, np.ones(len(test_idx))
    if runs is None:
        picked = test_idx[np.linspace(0, len(test_idx) - 1, max_test).round().astype(int)]
        return picked, np.full(max_test, len(test_idx) / max_test)
    runs, steps = np.asarray(runs)[test_idx], np.asarray(steps)[test_idx]
    strata = []
    for run in np.unique(runs):
        in_run = runs == run
        rows = test_idx[in_run][np.argsort(steps[in_run], kind="stable")]
        position = np.arange(len(rows))
        octave = np.floor(np.log2(np.maximum(position, 1))).astype(int) + (position > 0)
        strata += [rows[octave == k] for k in np.unique(octave)]
    if len(strata) > max_test:
        raise ValueError(
            f"max_test {max_test} is below the {len(strata)} strata of the test runs: "
            "raise studies.max_test or set it to 0"
        )
    sizes = np.array([len(s) for s in strata])
    m = max(k for k in range(1, sizes.max() + 1) if np.minimum(sizes, k).sum() <= max_test)
    picks = [s[np.linspace(0, len(s) - 1, min(len(s), m)).round().astype(int)] for s in strata]
    weights = [np.full(len(p), len(s) / len(p)) for p, s in zip(picks, strata, strict=True)]
    return np.concatenate(picks), np.concatenate(weights)


def stratified_test_split(labels: np.ndarray, n_test: int, seed: int) -> np.ndarray:
    """Boolean mask of ``n_test`` samples evenly spread over the sorted labels.

    Samples are ordered by label (ties broken by a seeded shuffle) and every
    (n / n_test)-th one is taken, so the test set covers the whole label range.

    >>> mask = stratified_test_split(np.repeat(np.arange(10), 10), 10, seed=0)
    >>> int(mask.sum()), sorted(np.repeat(np.arange(10), 10)[mask].tolist())
    (10, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    n = len(labels)
    if not 0 < n_test < n:
        raise ValueError(f"n_test must be between 1 and {n - 1} for {n} samples, got {n_test}")
    shuffle = stream("test_split", seed).permutation(n)
    order = shuffle[np.argsort(labels[shuffle], kind="stable")]
    picks = ((np.arange(n_test) + 0.5) * n / n_test).astype(np.int64)
    mask = np.zeros(n, dtype=bool)
    mask[order[picks]] = True
    return mask


def subsample(X, y, max_samples: int, seed: int, groups=None):
    """A seeded random subset of ``max_samples`` rows (all rows when fewer or 0).

    Returns the rows of ``X``, ``y`` and ``groups`` (None stays None).
    """
    groups = None if groups is None else np.asarray(groups)
    if max_samples and len(y) > max_samples:
        keep = np.sort(stream("search_subsample", seed).permutation(len(y))[:max_samples])
        return X[keep], y[keep], None if groups is None else groups[keep]
    return X, y, groups


def validation_split(n: int, fraction: float, gen, groups=None):
    """Validation and fitting rows (each sorted) of ``n`` training images.

    Without ``groups``: a random ``fraction`` of the rows (the paper's 20%). With
    ``groups`` of two or more values: whole groups, ``round(fraction x groups)`` of them
    (at least one, at most all but one), drawn at random. Snapshots of one CH run are
    near-copies of their neighbours in time, so a random validation part scores the
    network on images it has all but seen, while the test split is whole held-out runs.
    ``fraction`` 0 gives no validation rows. ``gen`` is the training's torch.Generator
    (its draws decide the split), so the CNNs and the autoencoder split alike.

    >>> import torch
    >>> gen = torch.Generator().manual_seed(0)
    >>> val, fit = validation_split(8, 0.25, gen, groups=[0, 0, 1, 1, 2, 2, 3, 3])
    >>> len(val), len(fit), len(set(np.array([0, 0, 1, 1, 2, 2, 3, 3])[val]))
    (2, 6, 1)
    """
    import torch  # the CNNs' and the autoencoder's generator draws the split

    if groups is not None and len(groups) != n:
        raise ValueError(f"groups has {len(groups)} labels for {n} images")
    k = n_groups(groups)  # the rule of the leave-runs-out folds: None or one group is none
    if not k:
        perm = torch.randperm(n, generator=gen).numpy()  # drawn even without validation
        n_val = min(int(round(fraction * n)), n - 1) if fraction > 0 else 0
        return np.sort(perm[:n_val]), np.sort(perm[n_val:])
    if fraction <= 0:
        return np.arange(0), np.arange(n)
    is_val = held_out_rows(groups, fraction, torch.randperm(k, generator=gen).numpy())
    return np.flatnonzero(is_val), np.flatnonzero(~is_val)


def residual_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded positions of the calibration pairs that fit the residual scale, and the rest.

    >>> [len(part) for part in residual_split(10, 0.5, 0)]
    [5, 5]
    """
    perm = stream("residual_scale", seed).permutation(n)
    n_res = min(max(1, int(fraction * n)), n - 1)
    return perm[:n_res], perm[n_res:]


def split_rows(
    train: np.ndarray, fraction: float, seed: int, groups=None
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded split of the training rows into (fit rows, calibration rows).

    Without ``groups``: a random ``fraction`` of the rows. With ``groups`` (one label per
    row of ``train``) of two or more values: whole groups, :func:`held_out_groups` of
    them. CH: the test split is whole held-out runs, and a random part of the training
    runs would calibrate on near copies of fitted snapshots.

    >>> fit, cal = split_rows(np.arange(10), 0.2, 0)
    >>> len(fit), len(cal), sorted(np.concatenate([fit, cal]).tolist()) == list(range(10))
    (8, 2, True)
    >>> runs = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 4])
    >>> fit, cal = split_rows(np.arange(10), 0.2, 0, groups=runs)
    >>> len(np.unique(runs[cal])), bool(np.intersect1d(runs[fit], runs[cal]).size)
    (1, False)
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"calibration fraction must be in (0, 1), got {fraction}")
    if groups is not None and len(groups) != len(train):
        raise ValueError(f"groups has {len(groups)} labels for {len(train)} training rows")
    rng = stream("calibration", seed)
    k = n_groups(groups)
    if k:
        is_cal = held_out_rows(groups, fraction, rng.permutation(k))
        return np.sort(train[~is_cal]), np.sort(train[is_cal])
    perm = rng.permutation(len(train))
    n_cal = min(max(1, round(fraction * len(train))), max(len(train) - 1, 0))
    return np.sort(train[perm[n_cal:]]), np.sort(train[perm[:n_cal]])


def held_out_groups(k: int, fraction: float) -> int:
    """How many of ``k`` >= 2 groups a part of ``fraction`` holds out whole:
    ``round(fraction x k)``, at least one and never all.

    >>> held_out_groups(4, 0.2), held_out_groups(18, 0.2), held_out_groups(2, 0.9)
    (1, 4, 1)
    """
    return min(max(int(round(fraction * k)), 1), k - 1)


def held_out_rows(groups, fraction: float, order) -> np.ndarray:
    """Which rows a part of ``fraction`` holds out as whole groups (a boolean mask): those
    of the first :func:`held_out_groups` groups in ``order``, a random permutation of the
    group numbers 0..k-1 (the sorted unique values of ``groups``).

    >>> held_out_rows([5, 5, 7, 9, 9], 0.3, order=np.array([2, 0, 1])).tolist()
    [False, False, False, True, True]
    """
    group_of_row = np.unique(np.asarray(groups), return_inverse=True)[1]
    return np.isin(group_of_row, np.asarray(order)[: held_out_groups(len(order), fraction)])


def n_groups(groups) -> int:
    """How many groups folds can leave out whole: 0 without ``groups`` or with one group.

    >>> n_groups(None), n_groups([3, 3]), n_groups([0, 1, 1])
    (0, 0, 2)
    """
    n = 0 if groups is None else len(np.unique(groups))
    return n if n >= 2 else 0


def fold_pairs(n: int, folds: int, seed: int, groups=None) -> list:
    """The (fit, held-out) index pairs of a K-fold CV on ``n`` samples.

    Without ``groups``: shuffled K-fold. With ``groups`` (one label per sample) of two or
    more values: group K-fold (``min(folds, number of groups)`` folds), so no group is on
    both sides of a fold. CH's test split is whole held-out runs, and snapshots of one run
    are near copies of their neighbours in time: shuffled folds score a fit on its own
    run's neighbours (and so favour fits that interpolate within runs), which does not
    carry over to a new run. One group only: K-fold, as there is nothing to leave out.

    >>> runs = np.array([0, 0, 1, 1, 2, 2])
    >>> pairs = fold_pairs(6, 5, seed=0, groups=runs)
    >>> len(pairs), sorted(runs[b].tolist() for _, b in pairs)
    (3, [[0, 0], [1, 1], [2, 2]])
    >>> len(fold_pairs(6, 5, seed=0, groups=[7] * 6))
    5
    """
    from sklearn.model_selection import GroupKFold, KFold

    if k := n_groups(groups):
        splitter = GroupKFold(n_splits=min(folds, k))
        return list(splitter.split(np.zeros(n), groups=np.asarray(groups)))
    splitter = KFold(n_splits=min(folds, n), shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(n)))
