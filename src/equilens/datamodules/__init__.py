"""Lightning data modules."""

from equilens.datamodules.lens import LensDataModule

__all__ = ["LensDataModule"]
