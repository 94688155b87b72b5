"""How well could any model do? Estimates of the information floor of a snapshot.

A model predicts the label y of an image from what it sees of it, x (the image, or
features of it). No function of x predicts y with a smaller mean squared error than the
conditional mean E[y | x], whose error is the *Bayes risk* E[Var(y | x)]: the floor,
set by the data-generating protocol and not by any model. Seeing less of the image
cannot lower it (conditioning on a function of x averages over what it leaves out), so
the floor given features phi(image) lies at or above the floor given the image.

**The Delta test** (:func:`delta_test`) estimates the floor given x from the labels of
nearest neighbours in x (Pi & Peterson 1994; the Gamma test family of A. J. Jones:
Stefansson, Koncar & Jones 1997, Evans & Jones 2002; Eirola et al. 2008 use it to select
variables). If x_j is the nearest other sample to x_i and the labels are independent
given their inputs, then
E[(y_j - y_i)^2] = Var(y | x_i) + Var(y | x_j) + (f(x_j) - f(x_i))^2 with f = E[y | x],
so delta = mean_i (y_NN(i) - y_i)^2 / 2 tends to the Bayes risk as the neighbour distance
shrinks, and sqrt(delta) to the lowest RMSE of any model that sees only x. With finitely
many samples the last term biases it *upward* (by the variation of E[y | x] over the
neighbour distance): an estimate, not a rigorous bound; a model that sees more than x
(the whole image rather than two observables of it) can go below it. The neighbours and
hence delta depend on the metric of x (scale the features first), and the bias grows
with the dimension: in many dimensions the nearest neighbour is far, and features that
carry little about y weigh in the distance as much as those that carry most.

Per part of the label range (the low/mid/high thirds of
:func:`microprop.metrics.rmse_by_third`), the mean of the per-sample halves over the
samples whose *label* lies in the part estimates
(mean of Var(y | x_i) + mean of (y_i - f(x_i))^2) / 2 over those samples: the second term
is that part's Bayes risk (what a model's RMSE on that part is compared with), the first
the conditional variance at its inputs. They coincide when p(y | x) rarely reaches
across the part's edges; near an edge where it does, the estimate lies between them.

**The Gamma test** (:func:`neighbour_differences`, :func:`gamma_test`; Stefansson,
Koncar & Jones 1997, Evans & Jones 2002) removes most of that bias: over the k = 1..p
nearest neighbours, the mean half squared label difference gamma(k) grows about linearly
with the mean squared distance delta(k) (the variation of f), and the intercept of the
least-squares line at delta = 0 estimates the noise variance. It is an extrapolation:
where the neighbour distances are large against their spread (many dimensions) it rests
on the straight line holding far below the measured distances, and it can undershoot.

**An achievable reference** (:func:`knn_reference`): the out-of-fold RMSE of k-nearest-
neighbour regression on the same x is the error of one model that sees only x, so the
floor given x is at or below it (up to sampling noise); and it is scored per part of the
range exactly as the models are.

**The Ising protocol.** At equilibrium the snapshot s of temperature T has the Boltzmann
density exp(-H(s) / T) / Z(T), an exponential family in 1/T whose sufficient statistic is
the energy H(s) (Fisher-Neyman factorisation): an equilibrium image tells nothing about T
beyond its energy, and the floor given E is the floor given the image. The dataset's
snapshots are 64 Metropolis sweeps from a random start (:mod:`microprop.ising`): far
above Tc that is many relaxation times and E is close to sufficient, but below Tc the
lattice is still coarsening (domains of growing size, frozen at the lowest T) and near Tc
critical slowing down keeps it from equilibrium, so there the image can hold more than E
and |m| (:func:`ising_observables`): their floor is an upper estimate of the image's.
"""

from __future__ import annotations

import numpy as np


def ising_observables(images, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Energy per spin and absolute magnetization per spin of Ising images.

    ``images``: uint8, (..., N, M), 0 for spin -1 and 255 for spin +1 (pixels of 128 and
    above count as +1). The energy is :func:`microprop.ising.energy`'s
    -sum_<ij> s_i s_j over the periodic nearest-neighbour bonds (J = 1, each bond once,
    2 N M bonds) divided by the N M spins, so it lies in [-2, 2]: -2 for an ordered
    lattice, +2 for a checkerboard. |m| = |sum_i s_i| / (N M) lies in [0, 1]. Vectorised
    over the stack, ``chunk`` images at a time (to bound the int8 temporaries).

    >>> up = np.full((2, 4, 4), 255, np.uint8)
    >>> up[1, ::2, ::2] = up[1, 1::2, 1::2] = 0  # a checkerboard
    >>> e, m = ising_observables(up)
    >>> e.tolist(), m.tolist()
    ([-2.0, 2.0], [1.0, 0.0])
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim < 2:
        raise ValueError(f"images must be uint8 arrays (..., N, M), got {images.dtype}")
    shape, (n, m) = images.shape[:-2], images.shape[-2:]
    stack = images.reshape(-1, n, m)
    energy = np.empty(len(stack))
    magnetization = np.empty(len(stack))
    for lo in range(0, len(stack), chunk):
        s = np.where(stack[lo : lo + chunk] >= 128, np.int8(1), np.int8(-1))
        bonds = np.sum(s * np.roll(s, 1, axis=1), axis=(1, 2), dtype=np.int64)
        bonds += np.sum(s * np.roll(s, 1, axis=2), axis=(1, 2), dtype=np.int64)
        energy[lo : lo + chunk] = -bonds / (n * m)
        magnetization[lo : lo + chunk] = np.abs(s.sum(axis=(1, 2), dtype=np.int64)) / (n * m)
    return energy.reshape(shape), magnetization.reshape(shape)


def _as_samples(X, y) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    X = X.reshape(len(X), -1)
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (len(X),):
        raise ValueError(f"one label per sample: X has {len(X)} rows, y shape {y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("X and y must be finite")
    return X, y


_TIES = 16  # nearest distinct locations searched for ties at the smallest distance
_TIE_TOLERANCE = 1e-9  # relative: distances equal up to the rounding of scaled inputs


def _nearest_halves(Xq, yq, Xr, yr, itself: bool = False) -> np.ndarray:
    """Mean of (y_j - y_i)^2 / 2 over the reference samples j nearest to each query i.

    The reference is reduced to its distinct locations (labels: count, mean, sum of
    squared deviations), and every sample at the smallest distance is a partner: all
    those of the nearest location and of any other location as near (up to a relative
    :data:`_TIE_TOLERANCE`, among the :data:`_TIES` nearest locations). ``itself``: the
    queries are the reference; query i's partners are the other samples at its own
    location when there are any (distance 0; i adds 0 to the sum and is left out of the
    count), else those at the nearest other locations.
    """
    from sklearn.neighbors import NearestNeighbors

    points, inv, count = np.unique(Xr, axis=0, return_inverse=True, return_counts=True)
    inv = inv.reshape(-1)
    mean = np.bincount(inv, weights=yr, minlength=len(points)) / count
    squares = np.bincount(inv, weights=(yr - mean[inv]) ** 2, minlength=len(points))

    def nearest(X=None) -> tuple[np.ndarray, np.ndarray]:
        """The nearest locations of X (of each location but itself when None), and which
        of them are at the smallest distance."""
        k = min(_TIES, len(points) - (X is None))
        dist, ind = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(X)
        return ind, dist <= dist[:, :1] * (1 + _TIE_TOLERANCE)

    def pooled(ind, tied, y) -> tuple[np.ndarray, np.ndarray]:
        # over a location's samples j: sum (y_j - y)^2 = squares + count * (mean - y)^2
        total = np.where(tied, squares[ind] + count[ind] * (mean[ind] - y[:, None]) ** 2, 0)
        return total.sum(axis=1), np.where(tied, count[ind], 0).sum(axis=1)

    if not itself:  # queries apart from the reference (groups)
        total, partners = pooled(*nearest(Xq), yq)
        return total / partners / 2.0
    at = inv
    total = squares[at] + count[at] * (mean[at] - yq) ** 2
    partners = (count[at] - 1).astype(np.float64)
    alone = count[at] == 1
    if alone.any():  # then there are two or more locations
        ind, tied = nearest()
        total[alone], partners[alone] = pooled(ind[at[alone]], tied[at[alone]], yq[alone])
    return total / partners / 2.0


def delta_test(X, y, groups=None) -> np.ndarray:
    """Per-sample halves (y_NN(i) - y_i)^2 / 2 of the Delta test (see the module docstring).

    ``X`` (n, d) inputs, ``y`` (n,) labels. Their mean is the Delta test's estimate of the
    noise variance E[Var(y | x)], and sqrt of the mean over any subset (e.g. a third of
    the label range) the estimate of the lowest RMSE there of a model that sees only x.

    NN(i) is the nearest other sample in Euclidean distance (scikit-learn
    ``NearestNeighbors``). When several are equally near, the half is averaged over all
    of them, which removes the noise of an arbitrary pick and makes the result
    independent of the search's order: exact duplicates of x_i (distance 0), so that a
    location's samples contribute exactly the unbiased variance (ddof 1) of their
    labels; and, when x_i has none, every sample at the nearest distance, counting
    distances equal up to a relative 1e-9 (rounding of the scaled inputs) among the 16
    nearest distinct locations. Discrete inputs have such ties everywhere: (E, |m|) of
    a lattice lie on a grid.

    ``groups`` (one label per sample, e.g. the run of a CH image): the neighbour is
    sought only among samples of *other* groups, for data whose samples are correlated
    within a group (a neighbour from the same run would make the estimate optimistic).

    >>> half = delta_test([[0.0], [0.0], [0.0], [5.0]], [1.0, 2.0, 6.0, 0.0])
    >>> half[:3].tolist(), round(float(half[3]) * 6, 10)  # (1 + 4 + 36) / 3 / 2 for the last
    ([6.5, 4.25, 10.25], 41.0)
    >>> delta_test([[0.0], [0.1], [5.0]], [0.0, 1.0, 10.0], groups=[0, 0, 1]).tolist()
    [50.0, 40.5, 40.5]
    """
    X, y = _as_samples(X, y)
    if len(y) < 2:
        raise ValueError("the Delta test needs two or more samples")
    if groups is None:
        return _nearest_halves(X, y, X, y, itself=True)
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"one group per sample: {groups.shape} vs {y.shape}")
    half = np.empty(len(y))
    for g in np.unique(groups):
        rows = groups == g
        if rows.all():
            raise ValueError("one group only: no neighbour outside it")
        half[rows] = _nearest_halves(X[rows], y[rows], X[~rows], y[~rows])
    return half


def floor_rmse(halves, rows=None) -> float | None:
    """sqrt of the mean of :func:`delta_test`'s halves (over ``rows``, a mask or indices):
    the Delta test's RMSE floor; None when ``rows`` selects nothing.

    >>> floor_rmse([1.0, 3.0, 5.0]), floor_rmse([1.0, 3.0, 12.0], [True, True, False])
    (1.7320508075688772, 1.4142135623730951)
    """
    halves = np.asarray(halves, dtype=np.float64)
    chosen = halves if rows is None else halves[rows]
    return float(np.sqrt(chosen.mean())) if chosen.size else None


def neighbour_differences(X, y, n_neighbors: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance and half squared label difference (y_j - y_i)^2 / 2 of each sample
    i to its ``n_neighbors`` nearest other samples j, nearest first: two (n, k) arrays,
    the input of :func:`gamma_test` (scikit-learn ``NearestNeighbors``; equidistant
    neighbours, exact duplicates included, are taken in its order, which is unbiased).

    >>> d2, half = neighbour_differences([[0.0], [1.0], [3.0]], [0.0, 2.0, 2.0], 2)
    >>> d2.tolist(), half.tolist()
    ([[1.0, 9.0], [1.0, 4.0], [4.0, 9.0]], [[2.0, 2.0], [2.0, 0.0], [0.0, 2.0]])
    """
    from sklearn.neighbors import NearestNeighbors

    X, y = _as_samples(X, y)
    if not 0 < n_neighbors < len(y):
        raise ValueError(f"n_neighbors must be in 1..{len(y) - 1}, got {n_neighbors}")
    dist, ind = NearestNeighbors(n_neighbors=n_neighbors).fit(X).kneighbors()
    return dist**2, (y[ind] - y[:, None]) ** 2 / 2.0


def gamma_test(sq_distances, halves, rows=None) -> tuple[float, float] | None:
    """The Gamma test's noise variance: the intercept (and the slope) of the least-squares
    line of gamma(k) against delta(k), the means over ``rows`` (a mask or indices; all
    samples by default) of :func:`neighbour_differences`' half squared label differences
    and squared distances to the k-th neighbour. None when ``rows`` selects nothing.

    The intercept can be negative (a noise-free f, or an extrapolation that undershoots);
    the RMSE floor is sqrt(max(intercept, 0)). When all k neighbours are equally far (all
    delta(k) equal), the mean gamma is returned with slope 0.

    >>> d2 = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    >>> [round(v, 10) for v in gamma_test(d2, 0.5 + 2 * d2)]  # gamma = 0.5 + 2 delta
    [0.5, 2.0]
    """
    sq_distances = np.asarray(sq_distances, dtype=np.float64)
    halves = np.asarray(halves, dtype=np.float64)
    if rows is not None:
        sq_distances, halves = sq_distances[rows], halves[rows]
    if not len(halves):
        return None
    delta, gamma = sq_distances.mean(axis=0), halves.mean(axis=0)
    if np.ptp(delta) == 0:
        return float(gamma.mean()), 0.0
    slope, intercept = np.polyfit(delta, gamma, 1)
    return float(intercept), float(slope)


def knn_reference(
    X, y, n_neighbors=(5, 10, 20, 50, 100, 200), folds: int = 5, seed: int = 0, groups=None
) -> tuple[np.ndarray, list[int]]:
    """Out-of-fold predictions of k-nearest-neighbour regression on ``X``.

    An achievable reference for the floor given x: standardized x (fitted per fold) and
    the mean label of the k nearest training samples, k chosen among ``n_neighbors`` by
    an inner K-fold CV on each outer fold's training part only (nested: no prediction
    comes from a model that chose k on it). The folds are
    :func:`microprop.splits.fold_pairs`' (whole groups with ``groups``). Returns the
    predictions (one per sample) and the k of each outer fold.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(size=(400, 1))
    >>> pred, ks = knn_reference(x, 3 * x[:, 0], n_neighbors=(2, 50))
    >>> ks, bool(np.sqrt(np.mean((pred - 3 * x[:, 0]) ** 2)) < 0.05)
    ([2, 2, 2, 2, 2], True)
    """
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from microprop.splits import fold_pairs

    X, y = _as_samples(X, y)
    groups = None if groups is None else np.asarray(groups)
    pred = np.empty(len(y))
    chosen = []
    for fit, held in fold_pairs(len(y), folds, seed, groups):
        inner = fold_pairs(len(fit), folds, seed + 1, None if groups is None else groups[fit])
        smallest_part = min(len(a) for a, _ in inner)
        grid = [k for k in n_neighbors if k <= smallest_part] or [smallest_part]
        search = GridSearchCV(
            make_pipeline(StandardScaler(), KNeighborsRegressor()),
            {"kneighborsregressor__n_neighbors": grid},
            cv=inner,
            scoring="neg_mean_squared_error",
        ).fit(X[fit], y[fit])
        pred[held] = search.predict(X[held])
        chosen.append(int(search.best_params_["kneighborsregressor__n_neighbors"]))
    return pred, chosen
