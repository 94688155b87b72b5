"""Every model id and feature set of the workflow, in one place.

The rules (the ``model`` and ``feature`` wildcard patterns, which rule trains a model and
which file it reads), the scripts and the package (:mod:`microprop.models.run`,
:func:`microprop.models.cnn.parse_model_id`, :data:`microprop.features.FEATURES`, the ‡
of Table 2, the model ids the config may name) all read this module, so adding a model
is one :class:`Model` entry in :data:`MODELS` plus its class (``docs/development.md``).

It imports nothing of microprop, so any module, rule or script can import it without a
cycle and without loading torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("pcr", "svr", "cnn", "mucha", "blend")  # rule train_{kind} trains a model of the kind


@dataclass(frozen=True)
class FeatureSet:
    """A feature set: results/features/{dataset}/{name}.h5.

    ``rule`` makes the file: "features" for a stateless image transform (``transformer``
    names its class as "module:Class", ``options`` turns the ``features`` config section
    and a dataset into the class's keyword arguments), else the rule of its own.
    ``model_input`` is the file under results/features/{dataset}/ a model of this feature
    set reads (cnnpca-svr reads the embedding). ``model_pca``: its SVR fits a PCA on its own
    training images (``features.<name>.n_components``) and feeds the components unscaled.
    """

    name: str
    rule: str = "features"
    transformer: str | None = None
    options: Callable[[Mapping, str], dict] = field(default=lambda features, dataset: {})
    model_input: str | None = None
    model_pca: bool = False

    @property
    def input_file(self) -> str:
        """The feature file a model reads, without the .h5: the set's own or model_input."""
        return self.model_input or self.name


def _physfeat1_options(features: Mapping, dataset: str) -> dict:
    psd = features["psd"]
    return {"n_bins": psd["n_bins"], "floor": psd["floor"]}


def _physfeat2_options(features: Mapping, dataset: str) -> dict:
    psd = features["psd"]
    return {"n_bins": psd["n_bins"], "spectrum": psd["physfeat2_spectrum"][dataset]}


def _mucha_options(features: Mapping, dataset: str) -> dict:
    mucha = features["mucha"]
    return {"wavelet": mucha["wavelet"], "rescale_image": mucha["rescale_image"]}


def _twopoint_options(features: Mapping, dataset: str) -> dict:
    twopoint = features["twopoint"]
    return {"cutoff": twopoint["cutoff"][dataset], "field": twopoint["field"][dataset]}


FEATURE_SETS = {
    f.name: f
    for f in (
        FeatureSet("grad", transformer="microprop.features.grad:GradientNorm"),
        FeatureSet(
            "physfeat1",
            transformer="microprop.features.psd:PSDLineFit",
            options=_physfeat1_options,
        ),
        FeatureSet(
            "physfeat2",
            transformer="microprop.features.psd:PSDStack",
            options=_physfeat2_options,
        ),
        FeatureSet("cnnpca", rule="features_cnnpca", model_input="cnnembed", model_pca=True),
        FeatureSet(
            "mucha", transformer="microprop.features.mucha:MultiChannel", options=_mucha_options
        ),
        FeatureSet("latent", rule="autoencoder"),
        FeatureSet(
            "twopoint",
            transformer="microprop.features.twopoint:TwoPointStats",
            options=_twopoint_options,
            model_pca=True,
        ),
    )
}


@dataclass(frozen=True)
class Model:
    """A model id and what the workflow needs to know about it.

    ``kind``: "pcr", "svr", "cnn", "mucha" or "blend" (rule ``train_{kind}`` trains it).
    ``feature``: the feature set it reads (None: the images). ``arch``: the CNN's
    architecture (torchvision name, "p4m" or MuCha's "resnet34"), also the key of its
    measured training rate (microprop.resources). ``pretrained``: starts from ImageNet
    weights. ``sym``: periodic padding, D4 augmentation and test-time averaging.
    ``search``: how an SVR chooses C, gamma, epsilon: "tpe" (the paper's Table B.3 search,
    models.svr.search, else the paper's final values models.svr.final) or "grid"
    (models.svr.cv, else models.svr.hyperparameters). ``beyond_paper``: not in the paper
    (marked ‡ in Table 2). ``members``: the model ids a blend weighs
    (:mod:`microprop.models.blend`).
    """

    id: str
    kind: str
    feature: str | None = None
    arch: str | None = None
    pretrained: bool = False
    sym: bool = False
    search: str | None = None
    beyond_paper: bool = False
    members: tuple[str, ...] = ()

    @property
    def symmetry_aware(self) -> bool:
        """A CNN that builds in the square's symmetries: ``sym`` or the p4m network (the
        symmetry study's comparison; a CNN beyond the paper is not one by itself)."""
        return self.kind == "cnn" and (self.sym or self.arch == "p4m")

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind {self.kind!r} is not one of {KINDS}")
        if self.feature is not None and self.feature not in FEATURE_SETS:
            raise ValueError(f"{self.id}: unknown feature set {self.feature!r}")
        if (self.kind == "blend") != (len(self.members) >= 2):
            raise ValueError(f"{self.id}: a blend, and only a blend, has two members or more")


TORCHVISION_ARCHS = ("resnet18", "resnet152", "densenet121", "efficientnet_b0")


def _cnns() -> list[Model]:
    """The paper's CNNs, each from scratch and pretrained (Table 1), in the config's order."""
    return [
        Model(f"{arch}{suffix}", "cnn", arch=arch, pretrained=bool(suffix))
        for arch in TORCHVISION_ARCHS
        for suffix in ("", "-pretrained")
    ]


# In the order of config/config.yaml's models.ids (the order the schema listed them).
MODELS = {
    m.id: m
    for m in (
        Model("grad-pcr", "pcr", feature="grad"),
        Model("physfeat1-pcr", "pcr", feature="physfeat1"),
        Model("grad-svr", "svr", feature="grad", search="grid"),
        Model("physfeat1-svr", "svr", feature="physfeat1", search="grid"),
        Model("physfeat2-svr", "svr", feature="physfeat2", search="tpe"),
        Model("cnnpca-svr", "svr", feature="cnnpca", search="grid"),
        *_cnns(),
        Model("mucha-resnet34", "mucha", feature="mucha", arch="resnet34"),
        Model("resnet18-sym", "cnn", arch="resnet18", sym=True, beyond_paper=True),
        Model("p4m-cnn", "cnn", arch="p4m", beyond_paper=True),
        Model("latent-svr", "svr", feature="latent", search="grid", beyond_paper=True),
        Model("twopoint-svr", "svr", feature="twopoint", search="grid", beyond_paper=True),
        # issue 47: the feature SVR and the CNN, weighted on their held-out predictions
        Model("blend", "blend", members=("physfeat2-svr", "resnet18"), beyond_paper=True),
    )
}
_unknown_members = {m.id: m.members for m in MODELS.values() if set(m.members) - set(MODELS)}
if _unknown_members:
    raise ValueError(f"blend members that are no model id: {_unknown_members}")


def model(model_id: str) -> Model:
    """The registry entry of a model id; a ValueError names the known ids.

    >>> model("physfeat2-svr").feature, model("resnet18-pretrained").arch
    ('physfeat2', 'resnet18')
    """
    try:
        return MODELS[model_id]
    except KeyError:
        raise ValueError(f"unknown model id {model_id!r} (known: {', '.join(MODELS)})") from None


def model_ids(kind: str | None = None) -> list[str]:
    """Every model id, or those of one kind, in registry order."""
    return [m.id for m in MODELS.values() if kind is None or m.kind == kind]


def feature_names(rule: str | None = None) -> list[str]:
    """Every feature set, or those one rule makes ("features": the stateless ones)."""
    return [f.name for f in FEATURE_SETS.values() if rule is None or f.rule == rule]


def pattern(names) -> str:
    """A wildcard regex matching exactly ``names`` (ids hold only [a-z0-9_-]).

    >>> pattern(model_ids("pcr"))
    'grad-pcr|physfeat1-pcr'
    """
    return "|".join(names) or "(?!)"


def unknown_model_ids(values: Any) -> list[str]:
    """The entries of ``values`` (a list of ids, or one id) that are not registered."""
    values = [values] if isinstance(values, str) else list(values or [])
    return [v for v in values if v not in MODELS]
