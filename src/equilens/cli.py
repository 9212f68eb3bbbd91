"""The ``equilens`` command: simulate, train, evaluate, predict, sensitivity, quickstart.

Errors in user input (files, folders, options) print one line naming the problem and exit
with status 2; nothing else of the user's is touched.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import MISSING, fields

from equilens import __version__
from equilens.config import (BOOTSTRAP_REPLICATES, DEFAULT_RECIPE, INVARIANCE_IMAGES, READING_OPTIONS, SCORING_BATCH_SIZES,
                             TWIN_PAIRS_PER_MASS_BIN, UNSET, QuickstartConfig, TrainConfig)
from equilens.errors import InputError
from equilens.log import logger
from equilens.memory import keep_freed_memory
from equilens.precision import PRECISIONS
from equilens.tasks import TASKS, get_task


def _task_defaults(name: str) -> str:
    """Help text: a field's default for each task of the default recipe."""
    return "default: " + ", ".join(f"{task.name} {task.recipes[DEFAULT_RECIPE][name]}" for task in TASKS.values())


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field, its help from the field's metadata (equilens.config.option)."""
    parser.add_argument("--resume", metavar="RUN", help="continue an interrupted run folder (other options but "
                        "--epochs/--max-time are taken from the run; both count the whole run, not this session)")
    for config_field in fields(TrainConfig):
        if config_field.name == "reading":
            for name, (help_text, cli) in READING_OPTIONS.items():
                parser.add_argument(f"--{name}", help=help_text, default=None, **cli)
            continue
        meta = config_field.metadata
        help_text, cli = meta["help"], dict(meta["cli"])
        if config_field.name == "task":
            help_text, cli["choices"] = "; ".join(task.description for task in TASKS.values()), list(TASKS)
        if config_field.default is UNSET:  # left out: the recipe's value, absent from the namespace
            default, help_text = argparse.SUPPRESS, f"{help_text} ({_task_defaults(config_field.name)})"
        else:
            default = None if config_field.default is MISSING else config_field.default
            if default not in (None, False, True):
                help_text = f"{help_text} (default {default})"
        flag = meta["flag"] or "--" + config_field.name.replace("_", "-")
        parser.add_argument(flag, dest=config_field.name, default=default, help=help_text, **cli)
        for off, off_help in meta["off"].items():
            # --no-crop, --no-brightness: None; --no-rotate: False
            unset = {"action": "store_false"} if cli.get("action") == "store_true" else {"action": "store_const", "const": None}
            parser.add_argument(off, dest=config_field.name, default=argparse.SUPPRESS, help=off_help, **unset)
    parser.add_argument("--runs-dir", default="runs", help="parent folder of run folders")
    parser.add_argument("--name", help="run folder name (default: task-model-group-timestamp)")


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of parsed ``equilens train`` options."""
    names = {f.name for f in fields(TrainConfig)} | set(READING_OPTIONS)
    switched_off = {"crop_fraction", "brightness"}  # None here comes from --no-crop / --no-brightness
    values = {k: v for k, v in vars(args).items() if k in names and (v is not None or k in switched_off)}
    for key in ("max_time", "init_weights"):
        if isinstance(values.get(key), str) and values[key].lower() == "none":
            values[key] = None
    return TrainConfig(**values)


def _run_train(args: argparse.Namespace) -> int:
    if not args.resume and not args.data:  # before the seconds of importing torch
        raise InputError("equilens train needs --data DIR (or --resume RUN)")
    from equilens.training import resume, train

    if args.resume:
        run_dir = resume(args.resume, epochs=getattr(args, "epochs", None), max_time=getattr(args, "max_time", None))
    else:
        run_dir = train(train_config(args), runs_dir=args.runs_dir, name=args.name)
    if os.environ.get("LOCAL_RANK", "0") == "0":  # DDP's extra processes stay quiet
        print(f"run: {run_dir}\nweights: {run_dir / 'model.safetensors'}\nnext: equilens evaluate {run_dir}")
    return 0


def _add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="training run folder or .safetensors weights file")
    _add_pretrained_argument(parser)
    parser.add_argument("--data", help="labelled folder to evaluate on (default: the run's held-out test split)")
    parser.add_argument("--out", help="report folder (default: a new evaluation* folder inside the run)")
    parser.add_argument("--threshold", type=float, help="decision threshold for the confusion matrix "
                        "(default 0.5 on p(substructure); Youden-optimal for anomaly scores)")
    parser.add_argument("--bootstrap", type=int, default=BOOTSTRAP_REPLICATES, help="bootstrap replicates for the AUC 95%% interval")
    parser.add_argument("--invariance-images", type=int, default=INVARIANCE_IMAGES, help="images used to measure invariance errors (0: skip)")
    _add_reading_arguments(parser)
    _add_scoring_arguments(parser)


def _add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hdu", metavar="NAME|INDEX", help="FITS HDU holding the image, instead of the model's (its "
                        "training's --hdu, or the first HDU with image data)")
    parser.add_argument("--pixel-scale", type=float, metavar="ARCSEC", help="arcsec per pixel of files without a celestial "
                        "WCS (npy, png, jpg, FITS without one), resampled from it to the model's pixel scale (default: "
                        "taken as they are, at the model's, with a warning; files with a WCS use theirs)")


def _add_pretrained_argument(parser: argparse.ArgumentParser) -> None:
    from equilens.registry import PRETRAINED

    parser.add_argument("--pretrained", choices=list(PRETRAINED), help="use a model that ships with equilens instead of MODEL: "
                        + "; ".join(f"{spec.name}: {spec.description}" for spec in PRETRAINED.values()) + " (see its model card)")


def _model_path(model: str | None, pretrained: str | None) -> str:
    """MODEL, or the weights of --pretrained; exactly one of them."""
    from equilens.pretrained import pretrained_weights

    if pretrained:
        if model is not None:
            raise InputError(f"give MODEL ({model}) or --pretrained {pretrained}, not both")
        return str(pretrained_weights(pretrained))
    if model is None:
        raise InputError("name a MODEL (run folder or .safetensors file), or --pretrained test-iv")
    return model


def _add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--symmetrize", action="store_true", help="average scores over the 8 rotations/flips of the square")
    parser.add_argument("--batch-size", type=int, help="images per forward pass (default: "
                        f"{SCORING_BATCH_SIZES['cpu']} on a CPU, {SCORING_BATCH_SIZES['cuda']} on a GPU)")
    parser.add_argument("--device", default="auto", help="auto, cpu, gpu (or cuda), gpu:1 (or cuda:1), mps")
    parser.add_argument("--compile", action="store_true", help="torch.compile the exported model: faster on many "
                        "images, after a one-off compile of seconds (needs a C++ compiler on a CPU)")
    parser.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: the CPUs other programs leave free)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto", help="number format of the forward pass: auto "
                        "(bfloat16 where the processor has it natively, e.g. AMX, and a classifier's probabilities on "
                        "the first images agree with float32's; else float32), float32 or bfloat16")


def _choose_threads(args: argparse.Namespace) -> None:
    """The command owns its process: its threads fit the CPUs free now (equilens.threads), or --threads."""
    from equilens.threads import choose_threads

    choose_threads(args.threads)


def _run_evaluate(args: argparse.Namespace) -> int:
    _choose_threads(args)
    from equilens.evaluation import evaluate

    if args.pretrained and not args.data:
        raise InputError(f"--pretrained {args.pretrained} has no held-out split of its own: pass --data DIR")
    out, metrics = evaluate(
        _model_path(args.model, args.pretrained), data=args.data, out=args.out, threshold=args.threshold, symmetrize=args.symmetrize,
        n_bootstrap=args.bootstrap, invariance_images=args.invariance_images, batch_size=args.batch_size,
        device=args.device, compiled=args.compile, precision=args.precision, hdu=args.hdu, pixel_scale=args.pixel_scale,
    )
    get_task(metrics["task"]).summary(out, metrics)
    return 0


def _add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="[MODEL] PATH",
                        help="training run folder or .safetensors weights file (unless --pretrained), then image "
                        "files or folders (searched recursively)")
    _add_pretrained_argument(parser)
    parser.add_argument("--out", required=True, help="CSV to write: path, score (and class probabilities, or an anomaly model's p-value; "
                        "a regression model: its predicted mean and sigma; a model with a pixel scale: each file's, the "
                        "resampling factor and the crop); unreadable files are skipped and listed in OUT-STEM.errors.csv")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists (and start an interrupted "
                        "predict of it afresh); without it, the same command after a kill resumes where it stopped")
    parser.add_argument("--correct-class-mix", action="store_true", help="a classifier: correct the probabilities to the "
                        "class mix estimated from the scored images themselves (always estimated and written to "
                        "OUT-STEM.class_mix.json with a 95%% interval); for many images whose mix differs from the model's")
    parser.add_argument("--num-workers", type=int, help="processes decoding images while the model scores "
                        "(default: a quarter of the CPUs, rounded down, at most 4, so none on 3 or fewer; 0: decode in the main process)")
    _add_reading_arguments(parser)
    _add_scoring_arguments(parser)


def _run_predict(args: argparse.Namespace) -> int:
    _choose_threads(args)
    from equilens.predict import predict

    model, paths = (None, args.inputs) if args.pretrained else (args.inputs[0], args.inputs[1:])
    if not paths:
        raise InputError("name the images to score after MODEL (files or folders)")
    out, errors = predict(_model_path(model, args.pretrained), paths, args.out, batch_size=args.batch_size,
                          symmetrize=args.symmetrize, device=args.device, overwrite=args.overwrite, compiled=args.compile,
                          num_workers=args.num_workers, precision=args.precision, hdu=args.hdu, pixel_scale=args.pixel_scale,
                          correct_class_mix=args.correct_class_mix)
    print(f"scores: {out}" + (f"\nunreadable files: {errors}" if errors else ""))
    return 0


def _add_sensitivity_arguments(parser: argparse.ArgumentParser) -> None:
    from equilens.simulation.ideal_observer import SCAN_PAIRS, SCAN_POSITIONS
    from equilens.simulation.presets import PRESETS
    from equilens.simulation.twins import DEFAULT_CONCENTRATION, TWIN_PLACEMENTS, TWIN_PROFILES

    parser.add_argument("model", nargs="?", help="training run folder or .safetensors weights file")
    _add_pretrained_argument(parser)
    parser.add_argument("--preset", choices=sorted(PRESETS), help="observation, lens and source (default: the "
                        "simulation the model was trained on, when its run's data folder has a simulation.json)")
    parser.add_argument("--masses", type=float, nargs="+", metavar="MSUN", help="subhalo mass bin edges in Msun, "
                        "increasing (default: 0.5-dex bins from 10^7.5 to 10^10.5: 3.16e7 1e8 ... 3.16e10)")
    parser.add_argument("--per-mass", type=int, default=TWIN_PAIRS_PER_MASS_BIN, help="twin pairs (without and with a subhalo) per mass "
                        f"bin; the same lenses in every bin (default {TWIN_PAIRS_PER_MASS_BIN})")
    parser.add_argument("--profile", choices=list(TWIN_PROFILES), default="tnfw", help="subhalo profile: tnfw (NFW "
                        "truncated at its tidal radius in the main lens), nfw (untruncated), point (default tnfw)")
    parser.add_argument("--concentration", default=DEFAULT_CONCENTRATION, help="NFW concentration: duffy2008 (Duffy "
                        f"et al. 2008 c200(M, z): ~9 at 1e9 Msun) or a fixed c200 (default {DEFAULT_CONCENTRATION})")
    parser.add_argument("--placement", choices=TWIN_PLACEMENTS, default="ring", help="ring: on the Einstein ring "
                        "(radius theta_E, angle uniform); annulus: uniform per unit area in the preset's subhalo "
                        "radius range (default ring)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the twins and the bootstrap (default 0)")
    parser.add_argument("--bootstrap", type=int, default=BOOTSTRAP_REPLICATES, help="bootstrap replicates (pairs resampled)")
    parser.add_argument("--out", help="report folder (default: a new sensitivity* folder inside the run, or here)")
    parser.add_argument("--scan-positions", type=int, default=SCAN_POSITIONS, metavar="K", help="candidate subhalo "
                        "positions of the ideal observer's unknown-position matched-filter scan, on the ring or annulus; "
                        f"0: no scan (default {SCAN_POSITIONS})")
    parser.add_argument("--scan-pairs", type=int, default=SCAN_PAIRS, metavar="N", help="twin pairs per mass bin the "
                        f"scan is measured on, the first ones: it renders K noiseless images per pair (default {SCAN_PAIRS})")
    _add_scoring_arguments(parser)


def _run_sensitivity(args: argparse.Namespace) -> int:
    _choose_threads(args)
    from equilens.sensitivity import DEFAULT_MASS_EDGES_MSUN, print_summary, sensitivity

    out, report = sensitivity(
        _model_path(args.model, args.pretrained), preset=args.preset, mass_edges_msun=args.masses or DEFAULT_MASS_EDGES_MSUN,
        n_per_bin=args.per_mass, profile=args.profile, placement=args.placement, concentration=args.concentration,
        seed=args.seed, out=args.out, n_bootstrap=args.bootstrap, batch_size=args.batch_size, symmetrize=args.symmetrize,
        device=args.device, compiled=args.compile, precision=args.precision, scan_positions=args.scan_positions,
        scan_pairs=args.scan_pairs,
    )
    print_summary(out, report)
    return 0


def _add_quickstart_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = QuickstartConfig()
    parser.add_argument("--out", default=defaults.out, help="parent folder of the new quickstart-* folder")
    parser.add_argument("--n-per-class", type=int, default=defaults.n_per_class, help="training+validation images per class")
    parser.add_argument("--n-test-per-class", type=int, default=defaults.n_test_per_class, help="test images per class")
    parser.add_argument("--preset", default=defaults.preset, help="simulation preset")
    parser.add_argument("--epochs", type=int, help="training epochs at most (default: equilens train's)")
    parser.add_argument("--max-time", help="training wall-clock limit DD:HH:MM:SS (default: equilens train's)")
    parser.add_argument("--lr", type=float, help="Adam learning rate (default: equilens train's)")
    parser.add_argument("--batch-size", type=int, help="images per batch (default: equilens train's)")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="simulation processes")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", default=defaults.device, help="auto, cpu, gpu (or cuda), gpu:1, mps")


def _run_quickstart(args: argparse.Namespace) -> int:
    from equilens.quickstart import quickstart

    names = {f.name for f in fields(QuickstartConfig)}
    out, metrics = quickstart(QuickstartConfig(**{k: v for k, v in vars(args).items() if k in names}))
    get_task(metrics["task"]).summary(out, metrics)
    return 0


def _add_simulate(subparsers) -> None:
    from equilens.simulation import add_simulate_arguments, run_simulate

    parser = subparsers.add_parser("simulate", help="render labelled lensing images with lenstronomy")
    add_simulate_arguments(parser)
    parser.set_defaults(handler=run_simulate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="equilens", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"equilens {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    commands = [
        ("quickstart", "simulate, train and evaluate end to end on a small dataset", _add_quickstart_arguments, _run_quickstart),
        ("train", "train a classifier or anomaly detector on an image folder", _add_train_arguments, _run_train),
        ("evaluate", "ROC, AUC with CI, confusion matrix, curves for a trained model", _add_evaluate_arguments, _run_evaluate),
        ("predict", "score new images with a trained model", _add_predict_arguments, _run_predict),
        ("sensitivity", "the lightest subhalo a model detects: AUC and TPR per subhalo mass on paired twins",
         _add_sensitivity_arguments, _run_sensitivity),
    ]
    for name, help_text, add, handler in commands:
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add(sub)
        sub.set_defaults(handler=handler)
    _add_simulate(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("equilens: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    # The command owns its process, so it may keep freed memory process-wide (equilens.memory);
    # library functions leave the caller's process as it was.
    keep_freed_memory()
    try:
        return args.handler(args)
    except InputError as error:
        print(f"equilens: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("equilens: interrupted (a training run continues with: equilens train --resume RUN)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
