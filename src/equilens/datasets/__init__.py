"""Reading lensing images and folders of them."""

from equilens.datasets.folder import LensFolder, check_images, scan_lens_folder
from equilens.datasets.images import IMAGE_SUFFIXES, FileInfo, Reading, check_image, read_bands, read_image
from equilens.datasets.split import read_split, stratified_split, write_split

__all__ = [
    "IMAGE_SUFFIXES",
    "FileInfo",
    "LensFolder",
    "Reading",
    "check_image",
    "check_images",
    "read_bands",
    "read_image",
    "read_split",
    "scan_lens_folder",
    "stratified_split",
    "write_split",
]
