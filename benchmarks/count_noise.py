"""How much noise the Model I-like images carry, with and without whole photon counts.

    python benchmarks/count_noise.py [--preset deeplense-model-i] [--n-images 200]

DeepLenseSim's ``simple_sim`` (its Model I files) adds lenstronomy's Gaussian shot noise and
Gaussian background, multiplies by the exposure time, and then draws Poisson counts of that,
clipped at zero: the simulation option ``integer_counts``. This renders the same ``no_sub``
lenses (seeds 0 … n-1) both ways and prints, as median and 10-90% range over the images:

* the noise on the arcs: the rms of (observed − noiseless) over pixels brighter than 10% of the
  noiseless peak, in counts/s, and the arcs' signal-to-noise (their summed noiseless flux over
  the square root of their summed squared noise);
* the background: the rms of the 20 × 20 px corner, the fraction of its pixels that are exactly
  zero, and the noiseless peak over that rms (a peak signal-to-noise ratio).
"""

from __future__ import annotations

import argparse

import numpy as np

from equilens.simulation import LensRenderer, get_preset


def noise_figures(renderer: LensRenderer, clean: LensRenderer, seed: int) -> dict[str, float]:
    """Noise statistics of image ``seed`` (class ``no_sub``) in counts/s."""
    params = renderer.draw_parameters("no_sub", seed)
    observed, noiseless = renderer.render(params, normalize=False), clean.render(params, normalize=False)
    arcs, corner = noiseless > 0.1 * noiseless.max(), (slice(0, 20), slice(0, 20))
    residual = observed - noiseless
    background_rms = observed[corner].std()
    return {"arc noise rms": residual[arcs].std(),
            "arc signal-to-noise": noiseless[arcs].sum() / np.sqrt((residual[arcs] ** 2).sum()),
            "background rms": background_rms,
            "background pixels at zero": float((observed[corner] == 0).mean()),
            "peak / background rms": noiseless.max() / background_rms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="deeplense-model-i", help="simulation preset")
    parser.add_argument("--n-images", type=int, default=200, help="no_sub lenses rendered each way")
    args = parser.parse_args()
    physics = get_preset(args.preset)
    clean = LensRenderer(physics.replace(noise=False))
    print(f"{args.preset}, {args.n_images} no_sub lenses; median (10-90%) over the images")
    for integer_counts in (False, True):
        renderer = LensRenderer(physics.replace(integer_counts=integer_counts))
        rows = [noise_figures(renderer, clean, seed) for seed in range(args.n_images)]
        print(f"\ninteger_counts={integer_counts}")
        for name in rows[0]:
            values = np.array([row[name] for row in rows])
            low, median, high = np.percentile(values, [10, 50, 90])
            print(f"  {name:<26} {median:.4g} ({low:.4g}-{high:.4g})")


if __name__ == "__main__":
    main()
