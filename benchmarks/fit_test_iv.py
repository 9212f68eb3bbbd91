"""Fit every image of a real lens folder with a smooth lens model: the Test IV calibration.

Each image (8-bit, as stored) is fitted by least squares with lenstronomy on the test-iv
preset's grid (150 px at 0.05″/px, Gaussian PSF FWHM 0.087″): SIE (θ_E, e1, e2) + external
shear (γ1, γ2) lensing an elliptical Sérsic source (centre, R, n, e1, e2), plus an elliptical
Sérsic lens light at the centre (R, n, e1, e2) and a constant background. The three
amplitudes are solved linearly at each step; the 15 shape parameters by scipy's
``least_squares`` from four starts (two ring sizes x two source offsets along the arcs' mean
direction). The fitted values' distributions (printed as quantiles per class) are what
``equilens.simulation.presets`` sets the ``test-iv`` preset from; the ``sub`` class's larger
fitted θ_E measures the mass its subhalos add inside the ring.

    python benchmarks/fit_test_iv.py ../shared/data/test-iv --per-class 60 --out fits.jsonl

About 4 s per image on one core. Appends one JSON line per image to ``--out`` (an interrupted
run resumes: images already in the file are skipped).

``--render DIR`` also writes every fit in ``--out`` as the preset observes an image (its noise,
saturation and 8-bit JPEG) to ``DIR/<class>/<file>``: a simulated folder whose lenses are the
real images' own fits. ``sim_fidelity.py compare --sim DIR`` then measures what a simulator of
this smooth model family could reach at best, whatever distributions it drew its values from.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

NAMES = ("theta_E", "lens_e1", "lens_e2", "shear_gamma1", "shear_gamma2", "source_x", "source_y",
         "source_R", "source_n", "source_e1", "source_e2", "lens_light_R", "lens_light_n", "lens_light_e1", "lens_light_e2")
LOWER = (0.5, -0.5, -0.5, -0.3, -0.3, -1.5, -1.5, 0.03, 0.3, -0.6, -0.6, 0.01, 0.3, -0.6, -0.6)
UPPER = (2.5, 0.5, 0.5, 0.3, 0.3, 1.5, 1.5, 2.0, 6.0, 0.6, 0.6, 1.0, 8.0, 0.6, 0.6)


class SmoothLensFit:
    """Least-squares fit of one image (float (150, 150), 8-bit units) with the smooth model."""

    def __init__(self) -> None:
        from lenstronomy.Data.pixel_grid import PixelGrid
        from lenstronomy.Data.psf import PSF
        from lenstronomy.ImSim.image_model import ImageModel
        from lenstronomy.LensModel.lens_model import LensModel
        from lenstronomy.LightModel.light_model import LightModel
        from lenstronomy.Util.util import make_grid_with_coordtransform

        from equilens.simulation import get_preset

        preset = get_preset("test-iv")
        self.num_pix = preset.num_pix
        _, _, ra0, dec0, _, _, pix2angle, _ = make_grid_with_coordtransform(
            preset.num_pix, preset.pixel_scale_arcsec, inverse=True)
        self.model = ImageModel(
            PixelGrid(preset.num_pix, preset.num_pix, pix2angle, ra0, dec0),
            PSF(psf_type="GAUSSIAN", fwhm=preset.psf_fwhm_arcsec, truncation=preset.psf_truncation_sigmas),
            lens_model_class=LensModel(["SIE", "SHEAR"]),
            source_model_class=LightModel(["SERSIC_ELLIPSE"]),
            lens_light_model_class=LightModel(["SERSIC_ELLIPSE"]),
        )

    def design(self, p: np.ndarray) -> np.ndarray:
        """(pixels, 3) unit-amplitude source, lens light and constant columns for parameters p."""
        te, e1, e2, g1, g2, sx, sy, sr, sn, se1, se2, lr, ln, le1, le2 = p
        lens = [{"theta_E": te, "e1": e1, "e2": e2, "center_x": 0.0, "center_y": 0.0},
                {"gamma1": g1, "gamma2": g2, "ra_0": 0.0, "dec_0": 0.0}]
        source = [{"amp": 1.0, "R_sersic": sr, "n_sersic": sn, "e1": se1, "e2": se2, "center_x": sx, "center_y": sy}]
        light = [{"amp": 1.0, "R_sersic": lr, "n_sersic": ln, "e1": le1, "e2": le2, "center_x": 0.0, "center_y": 0.0}]
        columns = [self.model.image(lens, source, light, source_add=True, lens_light_add=False),
                   self.model.image(lens, source, light, source_add=False, lens_light_add=True)]
        return np.stack([c.ravel() for c in columns] + [np.ones(self.num_pix**2)], 1)

    def residual(self, p: np.ndarray, data: np.ndarray) -> np.ndarray:
        design = self.design(p)
        amplitudes, *_ = np.linalg.lstsq(design, data.ravel(), rcond=None)
        return design @ amplitudes - data.ravel()

    def fit(self, data: np.ndarray) -> dict[str, float]:
        from scipy.optimize import least_squares

        centred = np.mgrid[: self.num_pix, : self.num_pix] - (self.num_pix - 1) / 2
        yy, xx = centred
        weights = data * ((np.hypot(xx, yy) > 10) & (np.hypot(xx, yy) < 50))
        # The arcs lie on the source's side of the lens; x (RA) grows to the left of the image.
        direction = np.arctan2((weights * yy).sum(), -(weights * xx).sum())
        best = None
        for theta_e, offset in ((0.9, 0.2), (0.9, 0.5), (1.2, 0.3), (0.7, 0.4)):
            start = np.array([theta_e, 0.05, 0, 0, 0, offset * np.cos(direction), offset * np.sin(direction),
                              0.3, 1.5, 0, 0, 0.1, 2.5, 0, 0])
            result = least_squares(self.residual, start, args=(data,), bounds=(LOWER, UPPER), x_scale="jac",
                                   max_nfev=400, diff_step=1e-3)
            if best is None or result.cost < best.cost:
                best = result
        amplitudes, *_ = np.linalg.lstsq(self.design(best.x), data.ravel(), rcond=None)
        return {**dict(zip(NAMES, map(float, best.x))), "source_amp": float(amplitudes[0]),
                "lens_light_amp": float(amplitudes[1]), "background": float(amplitudes[2]),
                "rms_residual": float(np.sqrt(2 * best.cost / data.size))}


def render_fits(fitter: SmoothLensFit, rows: list[dict], out_dir: Path) -> None:
    """Write each fitted model (no constant background), observed as the test-iv preset observes
    its images, to ``out_dir/<class>/<file name>`` (JPEG); seeds follow the rows' order."""
    from equilens.simulation import get_preset
    from equilens.simulation.render import LensRenderer
    from equilens.simulation.writer import save_image

    renderer = LensRenderer(get_preset("test-iv"))
    for index, row in enumerate(rows):
        design = fitter.design(np.array([row[name] for name in NAMES]))
        model = (design[:, :2] @ [row["source_amp"], row["lens_light_amp"]]).reshape(fitter.num_pix, fitter.num_pix)
        path = out_dir / row["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(renderer.observe(model, renderer.draw_parameters(row["class"], index)), path.with_suffix(".jpg"), "jpg")


def summarise(rows: list[dict]) -> None:
    for class_name in sorted({r["class"] for r in rows}):
        own = [r for r in rows if r["class"] == class_name]
        print(f"{class_name}: {len(own)} images; quantiles 0/10/50/90/100%")
        derived = {
            "source_distance": [np.hypot(r["source_x"], r["source_y"]) for r in own],
            "source_to_lens_light_amp": [r["source_amp"] / r["lens_light_amp"] for r in own],
        }
        for name in NAMES + ("background", "rms_residual"):
            derived.setdefault(name, [r[name] for r in own])
        for name, values in derived.items():
            quantiles = np.percentile(values, [0, 10, 50, 90, 100])
            print(f"  {name:26s}" + "".join(f"{q:9.3f}" for q in quantiles))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="folder with no_sub/ and sub/ images")
    parser.add_argument("--per-class", type=int, default=60, help="images per class (the first, sorted by name)")
    parser.add_argument("--classes", nargs="+", default=["no_sub", "sub"], help="classes to fit (default no_sub sub)")
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file of fits (appended; resumes)")
    parser.add_argument("--render", type=Path, help="also write the fits, observed as the test-iv preset observes, to this folder")
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_DISABLE_JIT", "1")
    from equilens.datasets.formats import read_image

    done = {json.loads(line)["file"] for line in args.out.open()} if args.out.exists() else set()
    fitter = SmoothLensFit()
    with args.out.open("a") as out:
        for class_name in args.classes:
            for path in sorted((args.data / class_name).iterdir())[: args.per_class]:
                key = f"{class_name}/{path.name}"
                if key in done:
                    continue
                start = time.perf_counter()
                row = {"file": key, "class": class_name, **fitter.fit(read_image(path).astype(float) * 255)}
                row["seconds"] = time.perf_counter() - start
                out.write(json.dumps(row) + "\n")
                out.flush()
    rows = [json.loads(line) for line in args.out.open()]
    summarise(rows)
    if args.render:
        render_fits(fitter, rows, args.render)
        print(f"rendered {len(rows)} fits to {args.render}")


if __name__ == "__main__":
    main()
