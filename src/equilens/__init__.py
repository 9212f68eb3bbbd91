"""equilens: dark-matter substructure in strong-lensing images with E(2)-equivariant networks."""

__version__ = "0.1.0"
