"""``equilens sensitivity``: the lightest subhalo a trained model detects, from its scores of twins (the same lenses
without and with one subhalo, per mass bin), beside the ideal observer's on the same twins; the Sensitivity benchmark
page describes the method and the report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from equilens.api import TrainedModel
from equilens.atomic import write_text_atomic
from equilens.config import BOOTSTRAP_REPLICATES, TWIN_PAIRS_PER_MASS_BIN
from equilens.errors import InputError
from equilens.simulation.jit import skip_numba_jit
from equilens.evaluation.mass_bins import AUC_TARGET, FPR_LEVELS, bin_centres, check_mass_edges, mass_at_auc_msun, sensitivity_curve
from equilens.evaluation.plots import plot_by_mass
from equilens.log import logger
from equilens.runs import CONFIG_NAME, RunRecord, new_folder
from equilens.simulation.config import LensSimulationConfig
from equilens.simulation.ideal_observer import SCAN_DRAWS, SCAN_PAIRS, SCAN_POSITIONS, IdealObserver
from equilens.simulation.presets import get_preset
from equilens.simulation.twins import (
    DEFAULT_CONCENTRATION,
    TWIN_SEED_KEY,
    Twins,
    one_subhalo,
    render_twins,
    subhalo_physics,
    twin_seeds,
)

DEFAULT_MASS_EDGES_MSUN = tuple(10 ** (7.5 + 0.5 * k) for k in range(7))
#: The ideal observer's figures per bin row and report key: (row key, label).
BOUNDS = (("ideal_auc", "ideal observer, known position"), ("scan_auc", "matched-filter scan, position unknown"))


def training_simulation(weights: Path, info: dict[str, Any]) -> tuple[LensSimulationConfig, Path] | None:
    """(config, its ``simulation.json``) of the simulation the model was trained on, if its run is at hand; else None."""
    candidates = [Path(info["run"])] if info.get("run") else []
    candidates.append(weights.parent)
    for run in candidates:
        if (run / CONFIG_NAME).is_file():
            manifest = Path(RunRecord.read(run).config.data) / "simulation.json"
            if manifest.is_file():
                return LensSimulationConfig.from_dict(json.loads(manifest.read_text())["config"]), manifest
            return None
    return None


def describe_subhalo(config: LensSimulationConfig) -> dict[str, str]:
    """Profile, concentration relation and placement of ``config``'s subhalos, in words."""
    if config.subhalo_profile == "point_mass":
        profile = "point mass, Einstein radius from the DeepLense mass relation"
        concentration = "none (point mass)"
    else:
        profile = "NFW of mass M200 (200 rho_crit(z_lens)), " + (
            "untruncated (r200 spans arcsec: most of the mass lies far from the subhalo)" if config.subhalo_profile == "nfw"
            else "truncated (Baltz et al. 2009, lenstronomy TNFW) at the tidal radius r_t = r (M200 / 2 M_SIS(<r))^(1/3) "
                 "in the main lens taken as an isothermal sphere, r = the projected distance (maximal stripping)")
        concentration = (f"Duffy et al. 2008 (full sample, NFW, 200c): c200 = 5.71 (M200 / 2e12 h^-1 Msun)^-0.084 "
                         f"(1 + z)^-0.47 at z = z_lens = {config.z_lens:g}, h = 0.7"
                         if config.subhalo_nfw_concentration_model == "duffy2008"
                         else f"fixed c200 = {config.subhalo_nfw_concentration:g} for every mass")
    if config.subhalo_placement == "ring":
        placement = (f"ring: at radius theta_E = {config.einstein_radius_arcsec:g} arcsec from the lens centre (no "
                     "jitter; the critical curve of the elliptical lens departs from this circle by a few %), "
                     "angle uniform")
    else:
        low, high = config.subhalo_radius_range_arcsec
        placement = f"annulus: uniform per unit area at radii {low:g}-{high:g} arcsec, angle uniform"
    return {"profile": profile, "concentration": concentration, "placement": placement,
            "mass": "log-uniform within each bin"}


def sensitivity(
    model_path: str | Path,
    preset: str | None = None,
    mass_edges_msun: Sequence[float] = DEFAULT_MASS_EDGES_MSUN,
    n_per_bin: int = TWIN_PAIRS_PER_MASS_BIN,
    profile: str = "tnfw",
    placement: str = "ring",
    concentration: str | float = DEFAULT_CONCENTRATION,
    seed: int = 0,
    out: str | Path | None = None,
    n_bootstrap: int = BOOTSTRAP_REPLICATES,
    batch_size: int | None = None,
    symmetrize: bool = False,
    device: str = "auto",
    compiled: bool = False,
    precision: str = "auto",
    scan_positions: int = SCAN_POSITIONS,
    scan_pairs: int = SCAN_PAIRS,
) -> tuple[Path, dict[str, Any]]:
    """Measure a model's detection sensitivity per subhalo mass and write the report.

    Args:
        model_path: a training run folder or a ``.safetensors`` weights file.
        preset: observation preset; default: the simulation the model was trained on.
        mass_edges_msun: increasing subhalo mass bin edges in M☉.
        n_per_bin: twin pairs per bin (the same lenses in every bin).
        profile: ``tnfw`` (tidally truncated NFW), ``nfw`` or ``point``; placement: ``ring`` or ``annulus``
            (the preset's radius range); concentration: ``duffy2008`` or a fixed c200 (NFW only).
        seed: seeds the twins (never those of a simulated dataset) and the bootstrap.
        out: report folder; default: a new ``sensitivity*`` folder in the run (or here).
        n_bootstrap: bootstrap replicates (pairs resampled).
        batch_size: images per forward pass.
        symmetrize: average scores over the 8 rotations and flips of the square.
        device: ``auto``, ``cpu``, ``cuda`` ...
        compiled: ``torch.compile`` the exported model.
        precision: ``auto``, ``float32`` or ``bfloat16`` (:mod:`equilens.precision`); the report says which scored.
        scan_positions: candidate subhalo positions of the ideal observer's unknown-position scan (0: no scan).
        scan_pairs: twin pairs per bin the scan is measured on (the first ones; it renders ``scan_positions``
            noiseless images per pair).

    Returns:
        (report folder, the dict written to sensitivity.json)."""
    edges = check_mass_edges(mass_edges_msun)
    if not (isinstance(n_per_bin, int) and n_per_bin >= 2):
        raise InputError(f"--per-mass {n_per_bin!r}: need at least 2 twin pairs per mass bin")
    if not (isinstance(seed, int) and seed >= 0):
        raise InputError(f"--seed {seed!r}: must be an integer >= 0")
    if not (isinstance(scan_positions, int) and scan_positions >= 0):
        raise InputError(f"--scan-positions {scan_positions!r}: must be an integer >= 0 (0: no scan)")
    if not (isinstance(scan_pairs, int) and scan_pairs >= 1):
        raise InputError(f"--scan-pairs {scan_pairs!r}: must be an integer >= 1")
    model = TrainedModel.load(model_path, device, compiled, precision)
    weights = model.weights
    if model.channels != 1:
        raise InputError(f"{weights}: a model of {model.channels} bands; sensitivity renders one grey band")
    trained_on = None if preset else training_simulation(weights, model.info)
    if preset:
        base = get_preset(preset)
    elif trained_on:
        base = trained_on[0]
    else:
        raise InputError(f"{weights}: its training data has no simulation.json to take the observation from: "
                         "pass --preset (e.g. hst-like)")
    physics = subhalo_physics(base, profile, placement, concentration)
    skip_numba_jit()  # numba's start-up costs more than its jit saves on these renders

    seeds = twin_seeds(seed, n_per_bin)
    without = render_twins(physics, seeds, with_subhalo=False)
    scores_without = _scores(model, without.images, batch_size, symmetrize)
    observer = IdealObserver(physics, without)
    twins, scores_with, bounds = [], [], []
    for b, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        logger.info("sensitivity: %d twin pairs at %.3g-%.3g Msun", n_per_bin, low, high)
        config = one_subhalo(physics, low, high)
        twins.append(render_twins(config, seeds, with_subhalo=True))
        scores_with.append(_scores(model, twins[-1].images, batch_size, symmetrize))
        bounds.append(observer.measure(config, twins[-1], scan_positions, scan_pairs, seed=seed, bin_index=b))
    curve = sensitivity_curve(scores_without, np.array(scores_with), edges, n_bootstrap, seed)

    out_dir = Path(out) if out else new_folder(model.run_dir or Path.cwd(), "sensitivity")
    out_dir.mkdir(parents=True, exist_ok=True)
    nfw = physics.subhalo_profile in ("nfw", "tnfw")
    centres = bin_centres(edges)
    for row, centre, bound in zip(curve["bins"], centres, bounds):
        row["nfw_concentration_at_centre"] = float(physics.subhalo_concentration(centre)) if nfw else None
        row["ideal_auc"], row["scan_auc"] = bound["ideal_auc"], bound["scan_auc"]
        row["ideal_d_prime_median"] = float(np.median(bound["d_prime"]))
    drawn = [(key, label) for key, label in BOUNDS if bounds[0][key] is not None]
    bound_masses = {bound_mass_key(key): mass_at_auc_msun(centres, np.array([row[key] for row in curve["bins"]]))
                    if (key, label) in drawn else None for key, label in BOUNDS}
    report = {
        "model": str(weights.resolve()),
        "task": model.task,
        "score": model.task_type.score_description(model),
        "symmetrized": symmetrize,
        "precision": model.precision,
        "observation": {"preset": preset, "trained_on": str(trained_on[1]) if trained_on else None,
                        "simulation": one_subhalo(physics, edges[0], edges[-1]).to_dict()},
        "subhalo": describe_subhalo(physics),
        "twins": {"n_pairs_per_bin": n_per_bin, "seed": seed,
                  "image_seeds": f"SeedSequence({seed}, spawn_key=({TWIN_SEED_KEY}, i)) for twin i; the same lenses, "
                                 "sources, noise and subhalo positions in every bin"},
        **curve,
        **bound_masses,
        "ideal_observer": {
            "ideal_auc": "the likelihood-ratio test of an observer that knows the lens, the source and the subhalo "
                         "(noiseless twins mu0, mu1; noise variance var of the image without the subhalo, counts/s): "
                         "d' = sqrt(sum((mu1 - mu0)^2 / var)), AUC pooled over the bin's pairs as the model's, "
                         "mean_ij Phi(sqrt(d_i^2 + d_j^2) / 2); per pair Phi(d'/sqrt 2). An upper bound on any "
                         "detector's AUC for Gaussian noise; for the Poisson terms (sky, whole counts) the Gaussian of "
                         "the same variance",
            "scan_auc": f"the lens and the subhalo's mass known, its position not: the largest whitened matched-filter "
                        f"response over {scan_positions} positions on the twins' {placement}, its AUC from "
                        f"{SCAN_DRAWS} Gaussian noise draws per pair and hypothesis, on the first "
                        f"{min(scan_pairs, n_per_bin)} pairs of each bin (null: --scan-positions 0)",
            "scan_positions": scan_positions, "scan_pairs": min(scan_pairs, n_per_bin) if scan_positions else 0,
        },
    }
    write_text_atomic(out_dir / "sensitivity.json", json.dumps(report, indent=2) + "\n")
    where = preset or f"trained-on {trained_on[1].parent.name}"
    plot_by_mass(curve["bins"], out_dir / "sensitivity.png", f"{where}: one {physics.subhalo_profile} subhalo, "
                 f"{placement}, {n_per_bin} twin pairs per bin", curve[f"mass_at_auc_{AUC_TARGET:g}_msun"], AUC_TARGET,
                 [(key, f"{label} ({_mass_text(report, key)})") for key, label in drawn])
    _write_scores(out_dir / "scores.csv", seeds, edges, scores_without, twins, scores_with, [b["d_prime"] for b in bounds])
    return out_dir, report


def bound_mass_key(bound: str) -> str:
    """The report's key of the mass at AUC 0.9 of ``bound`` (a :data:`BOUNDS` row key), e.g. ``ideal_mass_at_auc_0.9_msun``."""
    return f"{bound.removesuffix('_auc')}_mass_at_auc_{AUC_TARGET:g}_msun"


def _mass_text(report: dict[str, Any], bound: str) -> str:
    """Where ``bound``'s AUC reaches 0.9, in words."""
    mass = report[bound_mass_key(bound)]
    if mass is not None:
        return f"AUC {AUC_TARGET:g} at {mass:.3g} Msun"
    reached = min(row[bound] for row in report["bins"]) >= AUC_TARGET
    return f"AUC {AUC_TARGET:g} in every bin" if reached else f"AUC {AUC_TARGET:g} not reached in the bins"


def _scores(model: TrainedModel, images: np.ndarray, batch_size: int, symmetrize: bool) -> np.ndarray:
    return model.scores(torch.from_numpy(images[:, None]), batch_size=batch_size, symmetrize=symmetrize)[0]


def _write_scores(
    path: Path, seeds: list[int], edges: np.ndarray, scores_without: np.ndarray, twins: list[Twins],
    scores_with: list[np.ndarray], d_primes: list[np.ndarray],
) -> None:
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["bin", "mass_low_msun", "mass_high_msun", "twin", "seed", "mass_msun", "x_arcsec", "y_arcsec",
                     "score_without", "score_with", "ideal_d_prime"])
    for b, (bin_twins, bin_scores, bin_d) in enumerate(zip(twins, scores_with, d_primes)):
        for i, seed in enumerate(seeds):
            writer.writerow([b, f"{edges[b]:.6g}", f"{edges[b + 1]:.6g}", i, seed, f"{bin_twins.mass_msun[i]:.6g}",
                             f"{bin_twins.x_arcsec[i]:.6g}", f"{bin_twins.y_arcsec[i]:.6g}",
                             f"{scores_without[i]:.6g}", f"{bin_scores[i]:.6g}", f"{bin_d[i]:.6g}"])
    write_text_atomic(path, rows.getvalue())


def print_summary(out_dir: Path, report: dict[str, Any]) -> None:
    """The per-bin table beside the ideal observer's AUCs, and each mass at AUC 0.9, for the command line."""
    key = f"mass_at_auc_{AUC_TARGET:g}"
    tpr_keys = [f"tpr_at_fpr_{f:g}" for f in FPR_LEVELS]
    print(f"{'mass bin (Msun)':<22}{'AUC':>8}{'95% CI':>16}" + "".join(f"{'TPR@' + k.split('_')[-1]:>11}" for k in tpr_keys)
          + f"{'ideal AUC':>11}{'scan AUC':>10}")
    for row in report["bins"]:
        low, high = row["auc_ci95"]
        scan = "-" if row["scan_auc"] is None else f"{row['scan_auc']:.3f}"
        print(f"{row['mass_low_msun']:>9.3g} - {row['mass_high_msun']:<9.3g} {row['auc']:>8.3f}{f'{low:.3f}-{high:.3f}':>16}"
              + "".join(f"{row[k]:>11.3f}" for k in tpr_keys) + f"{row['ideal_auc']:>11.3f}{scan:>10}")
    mass, (low, high) = report[f"{key}_msun"], report[f"{key}_range68_msun"]
    shown = "none" if mass is None else f"{mass:.3g} Msun"
    bounds = "beyond the bins" if low is None and high is None else \
        "-".join("beyond the bins" if v is None else f"{v:.3g}" for v in (low, high))
    print(f"mass at AUC {AUC_TARGET:g}: {shown} (68% bootstrap range {bounds}; {report[f'{key}_note']})")
    for bound, label in BOUNDS:
        if report["bins"][0][bound] is not None:
            print(f"{label}: {_mass_text(report, bound)}")
    print(f"report: {out_dir} (sensitivity.json, sensitivity.png, scores.csv)")
