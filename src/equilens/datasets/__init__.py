"""Reading lensing images and folders of them."""

from equilens.datasets.folder import LensFolder, scan_lens_folder
from equilens.datasets.images import IMAGE_SUFFIXES, image_shape, read_image
from equilens.datasets.split import read_split, stratified_split, write_split

__all__ = [
    "IMAGE_SUFFIXES",
    "LensFolder",
    "image_shape",
    "read_image",
    "read_split",
    "scan_lens_folder",
    "stratified_split",
    "write_split",
]
