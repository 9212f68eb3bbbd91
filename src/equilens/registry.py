"""Every model and shipped model by name, without importing torch: the command line builds its choices here.

A :class:`ModelSpec` names its class as ``"module:Class"``, imported only when a model is built.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from equilens.errors import InputError

DEFAULT_CHANNELS = (16, 32, 64, 128)
RESNET18_WIDTHS = (64, 128, 256, 512)
# Channels, not fields: a group of order |G| gets channels // |G| regular fields per block.
DEFAULT_STEERABLE_CHANNELS = (24, 64, 128, 256)

_GROUP = re.compile(r"^([CD])(\d+)$")


class _Named(Protocol):
    name: str


S = TypeVar("S", bound=_Named)


def parse_group(name: str) -> tuple[bool, int]:
    """``"D4"`` -> (has_flips=True, order N=4). Raises InputError for anything else."""
    match = _GROUP.match(name.strip().upper())
    if not match or int(match.group(2)) < 1:
        raise InputError(f"group {name!r} is not C<N> or D<N> with N >= 1 (e.g. C4, C8, D4, D8)")
    return match.group(1) == "D", int(match.group(2))


def group_size(name: str) -> int:
    """|G|: N for C_N, 2N for D_N."""
    flips, order = parse_group(name)
    return order * (2 if flips else 1)


@dataclass(frozen=True)
class ModelSpec:
    """An architecture: ``constructor`` is ``"module:Class"`` of its LensNetwork, imported when built;
    ``tasks`` those it serves (``anomaly`` through its ``autoencoder``); ``channels`` per block by
    default (() keeps the constructor's); ``equivariant`` takes a ``group`` and channels // |G| fields;
    ``selectable`` by ``--model``, else built only by a task; ``legacy_defaults``: what configs saved
    before an option existed meant by its absence."""

    name: str
    constructor: str
    tasks: tuple[str, ...]
    channels: tuple[int, ...] = ()
    equivariant: bool = False
    autoencoder: str | None = None
    selectable: bool = True
    legacy_defaults: dict[str, Any] = field(default_factory=dict)

    def model_class(self) -> type:
        module, name = self.constructor.split(":")
        return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class PretrainedSpec:
    """A model that ships in the ``equilens.pretrained`` package: its files there and a one-line description."""

    name: str
    weights: str
    card: str
    description: str


class Registry(dict[str, S], Generic[S]):
    """Specs (anything with a ``name``) by name, in registration order; ``missing`` words the
    InputError for an unknown name, from ``{name}`` and ``{names}``."""

    def __init__(self, missing: str):
        super().__init__()
        self.missing = missing

    def register(self, spec: S) -> S:
        if spec.name in self:
            raise ValueError(f"{spec.name!r} is already registered")
        self[spec.name] = spec
        return spec

    def spec(self, name: str) -> S:
        if name not in self:
            raise InputError(self.missing.format(name=name, names=list(self)))
        return self[name]


MODELS: Registry[ModelSpec] = Registry("unknown architecture {name!r}; choose one of {names}")
PRETRAINED: Registry[PretrainedSpec] = Registry("--pretrained {name!r}: choose one of {names}")
register_model, model_spec = MODELS.register, MODELS.spec
register_pretrained, pretrained_spec = PRETRAINED.register, PRETRAINED.spec


def model_names(task: str | None = None) -> tuple[str, ...]:
    """The architectures users may pick (``--model``), those serving ``task`` if given."""
    return tuple(name for name, spec in MODELS.items() if spec.selectable and (task is None or task in spec.tasks))


def default_widths(architecture: str, group: str) -> list[int]:
    """Default widths per block: channels, or regular fields for an equivariant model of ``group``."""
    spec = model_spec(architecture)
    size = group_size(group) if spec.equivariant else 1
    return [max(1, channels // size) for channels in spec.channels]


def pretrained_names() -> tuple[str, ...]:
    return tuple(PRETRAINED)


_EVERY_TASK = ("classify", "regress", "anomaly")
register_model(ModelSpec("steerable", "equilens.models.steerable:SteerableCNN", _EVERY_TASK, DEFAULT_STEERABLE_CHANNELS,
                         equivariant=True, autoencoder="steerable_autoencoder", legacy_defaults={"pooled_blocks": None}))
register_model(ModelSpec("cnn", "equilens.models.cnn:PlainCNN", _EVERY_TASK, DEFAULT_CHANNELS, autoencoder="cnn_autoencoder"))
register_model(ModelSpec("resnet18", "equilens.models.resnet:ResNet18", ("classify", "regress"), RESNET18_WIDTHS))
register_model(ModelSpec("steerable_autoencoder", "equilens.models.autoencoder:SteerableAutoencoder", ("anomaly",),
                         equivariant=True, selectable=False))
register_model(ModelSpec("cnn_autoencoder", "equilens.models.autoencoder:PlainAutoencoder", ("anomaly",), selectable=False))
register_model(ModelSpec("outlier_exposure", "equilens.models.outlier_exposure:OutlierExposureDetector", ("anomaly",),
                         selectable=False))

register_pretrained(PretrainedSpec("test-iv", "test-iv.safetensors", "test-iv.md",
                                   "the default D4 classifier trained on the real DeepLense Test IV images"))
register_pretrained(PretrainedSpec("sim-test-iv", "sim-test-iv.safetensors", "sim-test-iv.md",
                                   "the same model trained on the calibrated test-iv simulation only (a start for fine-tuning)"))
