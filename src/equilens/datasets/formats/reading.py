"""How files become model input (:class:`Reading`), and what checking one file found (:class:`FileInfo`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from equilens.datasets.formats.scaling import DEFAULT_SCALING, SCALINGS
from equilens.errors import InputError


@dataclass(frozen=True)
class Reading:
    """How files become model input, saved with a run: JPEG/PNG in ``colour`` (R, G, B) or grey;
    ``bands`` named in channel order (every file holds that many; FITS then one file per band;
    None: whatever the files hold); the FITS ``hdu`` by name or index; the ``scaling`` of each band."""

    colour: bool = False
    bands: tuple[str, ...] | None = None
    hdu: str | None = None
    scaling: str = DEFAULT_SCALING

    def __post_init__(self) -> None:
        if isinstance(self.hdu, int) and not isinstance(self.hdu, bool):
            # An index from Python (equilens.train(..., hdu=1)) as the CLI's "1".
            object.__setattr__(self, "hdu", str(self.hdu))
        if self.scaling not in SCALINGS:
            raise InputError(f"--scaling {self.scaling!r}: choose one of {list(SCALINGS)}")
        if self.bands is not None and (len(set(self.bands)) != len(self.bands) or not self.bands):
            raise InputError(f"--bands {list(self.bands)}: name each band once")

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["bands"] = list(self.bands) if self.bands else None
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "Reading":
        """The reading saved with a run or model; None (saved before bands existed): grey."""
        values = dict(values or {})
        if values.get("bands"):
            values["bands"] = tuple(values["bands"])
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


GREY = Reading()


def saved_reading(record: dict) -> tuple[Reading, int]:
    """How a run or model (its config.json, or its weights' info) reads files, and their band count."""
    saved = record.get("input") or {}
    return Reading.from_dict(saved), saved.get("channels", 1)


class FileInfo(NamedTuple):
    """What checking one file found; ``value``: the number beside the image in a DeepLense object
    array, ``filled``: how many NaN or masked pixels reading fills (FITS)."""

    channels: int
    height: int
    width: int
    value: float | None = None
    filled: int = 0

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width
