"""One trained model directory: what it holds, and predicting with it from raw images.

``results/models/{dataset}/{model}/frac{frac}/seed{seed}/`` holds ``metrics.json``,
``predictions.csv`` and the model file: ``model.npz`` (PCR, SVR: plain arrays) or
``model.pt`` (CNNs: a state_dict read with ``torch.load(weights_only=True)``), and
``conformal.npz``: the calibration sets of its prediction intervals
(:class:`microprop.uncertainty.Conformal`, plain arrays).
cnnpca-svr and twopoint-svr fit their PCA inside the SVR (``input_pca_*`` arrays of
``model.npz``, see :class:`microprop.models.svr.SVRegressor`); older cnnpca files kept it as
``pca_*``.

``metrics.json`` carries, besides the scores, ``model``, ``dataset`` and a ``features``
record (feature name and the transformer options read from the feature file), so a
model can recompute its inputs from images. For ``cnnpca`` the PCA fitted by the
feature rule cannot be recomputed from images alone: it is saved in ``model.npz`` as
``pca_components`` and ``pca_mean`` and the embedding's weights choice and image size go
in the ``features`` record.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from microprop import registry
from microprop.images import IMAGE_SHAPE, check_images
from microprop.models.cnn import CNNRegressor
from microprop.models.pcr import PiecewiseConstantRegressor
from microprop.models.svr import SVRegressor
from microprop.uncertainty import Conformal

log = logging.getLogger("microprop")
MUCHA_ID = registry.model_ids("mucha")[0]  # the one MuCha model


def model_kind(model_id: str) -> str:
    """'pcr', 'svr', 'cnn' or 'mucha' for a model id (:data:`microprop.registry.MODELS`).

    >>> [model_kind(m) for m in ("grad-pcr", "cnnpca-svr", "resnet18-pretrained", MUCHA_ID)]
    ['pcr', 'svr', 'cnn', 'mucha']
    """
    return registry.model(model_id).kind


def feature_name(model_id: str) -> str | None:
    """The feature set a model reads: 'physfeat2-svr' -> 'physfeat2'; CNNs read images."""
    return registry.model(model_id).feature


def feature_record(
    model_id: str,
    feature_attrs: dict | None,
    seed: int = 0,
    n_components: int = 0,
):
    """The ``features`` record of metrics.json: name and transformer options.

    ``feature_attrs``: the attributes of the file the model read, its feature set's
    :attr:`~microprop.registry.FeatureSet.input_file` (cnnpca-svr: the ResNet18 embedding,
    whose weights and image size are recorded as the options, with ``seed``).
    ``n_components``: the PCA the model fitted inside itself on that file's values
    (:attr:`~microprop.registry.FeatureSet.model_pca`: cnnpca-svr, twopoint-svr),
    recorded beside the options the features are recomputed with.

    >>> feature_record("twopoint-svr", {"options": {"cutoff": 8, "field": "spin"}},
    ...                n_components=20)
    {'name': 'twopoint', 'options': {'cutoff': 8, 'field': 'spin'}, 'n_components': 20}
    >>> r = feature_record("cnnpca-svr", {"weights": "imagenet", "image_size": 64}, 0, 150)
    >>> r["options"], r["n_components"]
    ({'weights': 'imagenet', 'image_size': 64, 'seed': 0}, 150)
    """
    name = feature_name(model_id)
    if name is None:
        return {"name": None, "options": {}}
    attrs = feature_attrs or {}
    record = {"name": name, "options": dict(attrs.get("options") or {})}
    if n_components:
        record["n_components"] = int(n_components)
    if name == "cnnpca":  # the embedding's settings (ResNetEmbedding's options)
        record["options"] = {
            "weights": attrs.get("weights", "imagenet"),
            "image_size": int(attrs.get("image_size", IMAGE_SHAPE[0])),
            "seed": int(seed),
        }
        if attrs.get("weights_fallback"):  # ImageNet weights were unavailable offline
            record["weights_fallback"] = str(attrs["weights_fallback"])
    if name == "latent":  # the codes need the autoencoder that made them
        record["autoencoder"] = str(attrs.get("autoencoder", ""))
    return record


def save_model(model, path, extra: dict[str, np.ndarray] | None = None) -> None:
    """Write ``model`` to ``path`` (.npz models may carry ``extra`` arrays, e.g. the PCA)."""
    path = Path(path)
    if isinstance(model, CNNRegressor):
        model.save(path)
        return
    import io

    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.update({k: np.asarray(v) for k, v in (extra or {}).items()})
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def write_model_outputs(output, model, metrics: dict, table, extra=None) -> None:
    """Write a trained model's folder: the model, predictions.csv and metrics.json.

    ``output`` has the rule's named outputs ``model``, ``predictions`` and ``metrics``
    (and ``conformal`` for a model with prediction intervals, ``model.conformal_``);
    each file is written atomically, metrics.json last (it marks the folder complete).
    Non-finite scores or predictions (a diverged training) stop it before any file.
    """
    from microprop.io import atomic_path, strict_json

    scores = {k: metrics.get(k) for k in ("rmse", "mae", "r2")}
    bad = {k: v for k, v in scores.items() if not np.isfinite(float("nan" if v is None else v))}
    n_bad = int(np.count_nonzero(~np.isfinite(np.asarray(table["predicted"], dtype=float))))
    if bad or n_bad:
        raise ValueError(
            f"{metrics.get('model')} on {metrics.get('dataset')}: not written, the training "
            f"diverged ({n_bad} non-finite predictions, non-finite scores {bad})"
        )

    with atomic_path(output.model) as tmp:
        save_model(model, tmp, extra)
    with atomic_path(output.predictions) as tmp:
        table.to_csv(tmp, index=False)
    conformal = getattr(model, "conformal_", None)
    if conformal is not None:
        with atomic_path(output.conformal) as tmp:
            conformal.save(tmp)
    with atomic_path(output.metrics) as tmp:
        tmp.write_text(strict_json(metrics_with_warnings(metrics)))


def metrics_with_warnings(metrics: dict) -> dict:
    """``metrics`` as metrics.json holds it: infinite interval widths (a calibration set
    too small for the level) become null (:func:`microprop.io.strict_json`), and when the
    model's own intervals (``mean_width``) are infinite a ``warnings`` entry says so and
    the rule's log gets a warning.

    >>> m = metrics_with_warnings({"model": "m", "dataset": "d", "mean_width": float("inf"),
    ...                            "intervals": {"n_cal": 8}})
    >>> m["mean_width"], m["warnings"]  # doctest: +ELLIPSIS
    (None, ['infinite prediction intervals: ...'])
    """
    from microprop.io import without_nonfinite

    clean, nonfinite = without_nonfinite(metrics)
    if "mean_width" in nonfinite:
        info = metrics.get("intervals") or {}
        n_cal = (info.get("variants", {}).get(info.get("calibration")) or {}).get("n_cal")
        text = (
            "infinite prediction intervals: "
            + (f"{n_cal} calibration images are" if n_cal is not None else "the calibration set is")
            + f" too few for the {info.get('level', 0.9):.0%} level"
            " (lower/upper -inf/inf in predictions.csv, widths null in metrics.json)"
        )
        clean["warnings"] = [*clean.get("warnings", []), text]
        log.warning("%s on %s: %s", metrics.get("model"), metrics.get("dataset"), text)
    return clean


def check_prediction_images(images, source: str = "images") -> np.ndarray:
    """The images a trained model predicts from: (N, 64, 64), uint8 (or integers in
    0..255), non-empty; one (64, 64) image is a stack of one
    (:func:`microprop.images.check_images`).

    >>> check_prediction_images(np.zeros((64, 64), np.uint8)).shape
    (1, 64, 64)
    >>> check_prediction_images(np.zeros((2, 32, 32), np.uint8))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: images: expected ... (N, 64, 64) uint8 0..255, got shape (2, 32, 32)
    """
    return check_images(images, source, shape=IMAGE_SHAPE, uint8=True, single=True, min_count=1)


def read_images(path) -> tuple[np.ndarray, dict]:
    """Images from an HDF5 dataset (``images``), a .npy stack or a folder of PNGs.

    Returns the validated stack and extra columns for the output (dataset: ``true`` and
    ``split``; PNG folder: ``file``); from a dataset file also its ``dataset`` and
    ``property_name`` attributes (:func:`check_same_dataset`).
    """
    path = Path(path)
    extra: dict = {}
    if path.is_dir():
        from PIL import Image

        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".png")
        if not files:
            raise ValueError(f"{path}: no .png files in this folder")
        stack = []
        for p in files:
            try:
                im = Image.open(p)
            except OSError as err:
                raise ValueError(f"{p}: not a readable PNG ({err})") from err
            with im:
                if im.mode == "1":  # 1-bit, the natural format of Ising images: 0 / 255
                    im = im.convert("L")
                if im.mode not in ("L", "I", "I;16"):
                    raise ValueError(
                        f"{p}: expected an 8-bit grayscale PNG (mode 'L') or a 1-bit PNG of "
                        f"64x64 pixels, got mode {im.mode!r}"
                    )
                stack.append(check_prediction_images(np.asarray(im), str(p))[0])
        extra["file"] = [p.name for p in files]
        return np.stack(stack), extra
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.suffix == ".npy":
        try:
            stack = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: not a readable .npy array ({err})") from err
        return check_prediction_images(stack, str(path)), extra
    if path.suffix in (".h5", ".hdf5"):
        from microprop.io import decode_attr, open_h5, verify_checksum

        with open_h5(path) as f:
            if "images" not in f:
                raise ValueError(f"{path}: expected an HDF5 dataset with an 'images' array")
            images = f["images"][()]
            attrs = {key: decode_attr(value) for key, value in f.attrs.items()}
            for key in ("dataset", "property_name"):  # what the data are (dataset files)
                if key in attrs:
                    extra[key] = attrs[key]
            if "property" in f:
                extra["true"] = f["property"][()]
            if "split" in f:
                split = f["split"][()]
                extra["split"] = [s.decode() for s in split]
                if "true" in extra:  # a microprop dataset file: never predict on a corrupt one
                    verify_checksum(path, attrs, images, extra["true"], split)
        return check_prediction_images(images, str(path)), extra
    raise ValueError(f"{path}: expected an HDF5 dataset (.h5), a .npy stack or a folder of PNGs")


def check_same_dataset(model, extra: dict, source, allow: bool = False) -> str | None:
    """Refuse images of another dataset than the model was trained on: an Ising model
    given CH images would answer temperatures for them. ``extra`` is what
    :func:`read_images` read (a dataset file's ``dataset`` attribute); images without a
    dataset name (.npy, PNG) or a model without one pass. With ``allow`` the mismatch is
    returned as a warning instead of raised.

    >>> class M: metrics, model_id = {"dataset": "ising"}, "grad-pcr"
    >>> check_same_dataset(M, {"dataset": "ising"}, "x.h5") is None
    True
    >>> check_same_dataset(M, {"dataset": "ch", "property_name": "total free energy"}, "ch.h5")
    Traceback (most recent call last):
    ValueError: ch.h5: images of the dataset 'ch' (total free energy), but grad-pcr was ...
    >>> check_same_dataset(M, {"dataset": "ch"}, "ch.h5", allow=True)  # doctest: +ELLIPSIS
    "ch.h5: images of the dataset 'ch', but ... (--allow-other-dataset given)"
    """
    ours, theirs = model.metrics.get("dataset"), extra.get("dataset")
    if not ours or not theirs or ours == theirs:
        return None
    what = f" ({extra['property_name']})" if extra.get("property_name") else ""
    text = (
        f"{source}: images of the dataset {theirs!r}{what}, but {model.model_id} was trained "
        f"on {ours!r}: its predictions would be of another property"
    )
    if allow:
        return text + " (--allow-other-dataset given)"
    raise ValueError(text + " (--allow-other-dataset to predict anyway)")


class TrainedModel:
    """A model directory loaded for prediction from images."""

    def __init__(self, directory):
        self.directory = Path(directory)
        metrics = self.directory / "metrics.json"
        if not metrics.is_file():
            raise FileNotFoundError(f"{metrics}: not a trained model directory (no metrics.json)")
        try:
            self.metrics = json.loads(metrics.read_text())
        except ValueError as err:
            raise ValueError(f"{metrics}: not valid JSON ({err})") from err
        if not isinstance(self.metrics, dict) or not self.metrics:
            raise ValueError(
                f"{metrics}: holds {json.dumps(self.metrics)[:40]}, not a trained model's "
                "metrics (the keys 'model', 'dataset', 'features' that training writes)"
            )
        if "model" not in self.metrics:
            raise ValueError(f"{metrics}: lacks the key 'model' (the model id it was trained as)")
        self.model_id = self.metrics["model"]
        self.kind = model_kind(self.model_id)
        self.features = self.metrics.get("features") or {
            "name": feature_name(self.model_id),
            "options": {},
        }
        if not isinstance(self.features, dict) or "name" not in self.features:
            raise ValueError(f"{metrics}: its 'features' record lacks the key 'name'")
        path = self.directory / ("model.pt" if self.kind in ("cnn", "mucha") else "model.npz")
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (the model file of {self.model_id})")
        try:
            self._load(path)
        except Exception as err:  # torch, numpy and zipfile each raise their own errors
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise ValueError(f"{path}: not a {self.model_id} model file ({reason})") from err
        conformal = self.directory / "conformal.npz"
        self.conformal = Conformal.load(conformal) if conformal.is_file() else None

    def _load(self, path: Path) -> None:
        if self.kind == "blend":  # its members' folders beside it: {model}/frac{f}/seed{s}
            from microprop.models.blend import Blend

            self.model, self.pca = Blend.load(path), None
            models, frac, seed = self.directory.parents[2], self.directory.parent, self.directory
            self.members = [
                TrainedModel(models / member / frac.name / seed.name)
                for member in self.model.members
            ]
            return
        if self.kind in ("cnn", "mucha"):
            self.model = CNNRegressor.load(path)
            self.pca = None
            return
        cls = PiecewiseConstantRegressor if self.kind == "pcr" else SVRegressor
        self.model = cls.load(path)
        with np.load(path, allow_pickle=False) as f:
            self.pca = (f["pca_components"], f["pca_mean"]) if "pca_components" in f.files else None

    def featurize(self, images: np.ndarray) -> np.ndarray:
        """The model's inputs computed from (N, 64, 64) uint8 images."""
        from microprop import features as feats

        name, options = self.features["name"], dict(self.features.get("options") or {})
        if name is None:
            return images
        if name == "cnnpca":
            own_pca = getattr(self.model, "pca_components_", None) is not None
            if self.pca is None and not own_pca:
                raise ValueError(f"{self.directory}: cnnpca model without its saved PCA")
            embedder = feats.ResNetEmbedding(
                weights=options.get("weights", "imagenet"),
                image_size=int(options.get("image_size", IMAGE_SHAPE[0])),
                seed=int(options.get("seed", 0)),
                download=False,
            ).fit()
            if own_pca:  # the SVR fitted its PCA on its training subset and applies it
                return embedder.transform(images)
            components, mean = self.pca
            return (embedder.transform(images) - mean) @ components.T
        if name == "latent":  # models from before the pooling option saw the raw codes
            from microprop.features.latent import latent_features, load_autoencoder

            return latent_features(
                load_autoencoder(self.features["autoencoder"]),
                images,
                pooling=options.get("pooling", "none"),
                shift_step=int(options.get("shift_step", 4)),
                stage_means=bool(options.get("stage_means", False)),
            )
        transformer = feats.FEATURES[name](**options, n_jobs=os.cpu_count() or 1)
        return transformer.fit_transform(images)

    def predict(self, images) -> np.ndarray:
        if self.kind == "blend":
            images = check_prediction_images(images)
            return self.model.predict(np.column_stack([m.predict(images) for m in self.members]))
        X = self.featurize(check_prediction_images(images))
        if self.kind in ("pcr", "svr"):
            X = X.reshape(len(X), -1)
        return self.model.predict(X)

    def predict_intervals(self, images) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Point predictions and the bounds of the model's conformal intervals."""
        if self.conformal is None:
            raise ValueError(f"{self.directory}: no conformal.npz (a model without intervals)")
        pred = self.predict(images)
        return (pred, *self.conformal.intervals(pred))
