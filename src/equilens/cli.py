"""The ``equilens`` command: simulate, train, evaluate, predict, sensitivity, quickstart.

Errors in user input (files, folders, options) print one line naming the problem and exit
with status 2; nothing else of the user's is touched.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import fields

from equilens import __version__
from equilens.config import (AUTO_INIT_MAX_TRAIN_IMAGES, AUTO_INIT_MODEL, BOOTSTRAP_REPLICATES,
                             DEFAULT_RECIPE, INVARIANCE_IMAGES, LR_SCHEDULES, NEGATIVE_CLASS_NAMES, RECIPE_NAMES,
                             SCORING_BATCH_SIZE, SELECTIONS, TWIN_PAIRS_PER_MASS_BIN, QuickstartConfig, TrainConfig)
from equilens.datasets.formats.scaling import SCALINGS
from equilens.errors import InputError
from equilens.log import logger
from equilens.memory import keep_freed_memory
from equilens.registry import model_names
from equilens.tasks import TASKS, get_task
from equilens.tasks.regress import FILE_VALUE_TARGET


def _task_defaults(name: str) -> str:
    """Help text: a field's default for each task of the default recipe."""
    return "default: " + ", ".join(f"{task.name} {task.recipes[DEFAULT_RECIPE][name]}" for task in TASKS.values())


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig(data="")
    parser.add_argument("--data", help="dataset folder: one folder per class, e.g. no_sub/ and one or more class folders "
                        "with substructure (the layouts equilens reads: docs/layouts.md)")
    parser.add_argument("--resume", metavar="RUN", help="continue an interrupted run folder (other options but "
                        "--epochs/--max-time are taken from the run; both count the whole run, not this session)")
    parser.add_argument("--init-weights", metavar="RUN|FILE|NAME", default=None,
                        help="fine-tune: start from a trained run, a .safetensors file or a shipped model "
                        "(e.g. test-iv) instead of a random initialisation; the model settings are the weights' (give their "
                        "--scaling/--bands too: a run that reads images otherwise is warned); "
                        f"'none': random weights; 'auto': a training set of fewer than {AUTO_INIT_MAX_TRAIN_IMAGES} images "
                        f"starts from {AUTO_INIT_MODEL} (trained on simulation) when that is the run's model and "
                        f"classes ({_task_defaults('init_weights')})")
    parser.add_argument("--test-data", help="separate labelled test folder (default: hold out --test-fraction of --data)")
    parser.add_argument("--classes", nargs="+", metavar="CLASS",
                        help="class folders, the negative class (no substructure, not a lens) first: one name picks "
                        "the negative beside every other folder; several are every class in label order "
                        f"(default: the negative is {' or '.join(NEGATIVE_CLASS_NAMES)}; e.g. --classes nonlenses lenses)")
    parser.add_argument("--bands", nargs="+", metavar="BAND", help="names of the image bands, in channel order (e.g. g r i); "
                        "every image must have that many; FITS files <object>_<band>.fits are then one file per band "
                        "(default: the bands the files hold, unnamed)")
    parser.add_argument("--colour", action="store_true", default=defaults.colour,
                        help="read JPEG/PNG as three bands R, G, B (default: one band, luminance)")
    parser.add_argument("--hdu", default=defaults.hdu, metavar="NAME|INDEX",
                        help="FITS HDU holding the image (default: the primary HDU, else the first with image data)")
    parser.add_argument("--scaling", choices=SCALINGS, default=defaults.scaling,
                        help="per-band scaling of pixel values: minmax (integers by full scale, floats in [0, 1] kept, "
                        "else min-max), asinh (min-max, then an asinh stretch), percentile (clip to the "
                        f"band's percentiles, then min-max); predict applies the run's (default {defaults.scaling})")
    parser.add_argument("--task", choices=list(TASKS), default=defaults.task,
                        help="; ".join(task.description for task in TASKS.values()))
    parser.add_argument("--target", metavar="NAME", help="--task regress: the number to learn: a column of the data "
                        f"folder's metadata.csv (equilens simulate: axion_mass_ev ...), or '{FILE_VALUE_TARGET}': the number "
                        "each data file stores beside its image (DeepLense axion .npy files: the axion mass in eV); "
                        "--classes then names every class read (e.g. --classes axion)")
    parser.add_argument("--log-target", action="store_true", default=defaults.log_target,
                        help="--task regress: learn and predict log10 of the target")
    parser.add_argument("--outliers", metavar="SIM", help="--task anomaly: outlier exposure, a separate mode: train a "
                        "classifier of the data's real no_sub images (and SIM's plain lenses) against SIM's simulated "
                        "substructure (SIM: an equilens simulate folder apart from the data); no real substructure "
                        "image is trained on. Without it: the unsupervised autoencoder")
    parser.add_argument("--model", dest="architecture", choices=model_names(), default=defaults.architecture,
                        help="steerable: E(2)-equivariant escnn network; cnn: plain CNN baseline; resnet18: ResNet-18, "
                        "the DeepLense papers' plain baseline (classify and regress)")
    parser.add_argument("--group", default=defaults.group, help="symmetry group of the steerable model: C<N> or D<N> (C4, C8, D4, D8 ...)")
    parser.add_argument("--input-size", type=int, default=defaults.input_size, help="image side in pixels fed to the model (images are resized)")
    parser.add_argument("--widths", type=int, nargs="+", help="fields (steerable) or channels (cnn) per block; "
                        "channels per stage of two blocks (resnet18)")
    parser.add_argument("--pooled-blocks", type=int, default=defaults.pooled_blocks,
                        help="steerable model: first blocks that max-pool after a full-resolution conv; "
                        f"later ones downsample by a stride-2 conv (default {defaults.pooled_blocks})")
    parser.add_argument("--recipe", choices=RECIPE_NAMES, default=defaults.recipe,
                        help="defaults of the options below: equilens (chosen on the real Test IV images: Adam 2e-3, "
                        f"cosine decay over {get_task(defaults.task).recipes[DEFAULT_RECIPE]['epochs']} epochs) or deeplense (the DeepLense write-up's: Adam 1e-4, "
                        f"StepLR(5, 0.7), 10 epochs); an option given explicitly wins (default {defaults.recipe})")
    parser.add_argument("--epochs", type=int, default=None, help=f"training epochs: the run's length, over which the schedule runs its course ({_task_defaults('epochs')})")
    parser.add_argument("--batch-size", type=int, default=argparse.SUPPRESS, help=f"images per batch ({_task_defaults('batch_size')})")
    parser.add_argument("--min-batches-per-epoch", type=int, default=argparse.SUPPRESS, metavar="N",
                        help="a small training set gets batches of ceil(images / N), so a pass over it holds N steps; "
                        f"0: never smaller than --batch-size ({_task_defaults('min_batches_per_epoch')})")
    parser.add_argument("--min-images-per-epoch", type=int, default=argparse.SUPPRESS, metavar="N",
                        help="a training set of fewer than N images is passed over ceil(N / images) times per epoch, "
                        f"so that validation and checkpoints come less often; 0: one pass ({_task_defaults('min_images_per_epoch')})")
    parser.add_argument("--label-smoothing", type=float, default=argparse.SUPPRESS, metavar="EPS",
                        help=f"classification: cross-entropy targets smoothed by EPS ({_task_defaults('label_smoothing')})")
    parser.add_argument("--lr", type=float, default=argparse.SUPPRESS, help=f"Adam learning rate ({_task_defaults('lr')})")
    parser.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=argparse.SUPPRESS,
                        help="step: StepLR (below); cosine: decay to zero over --epochs or --max-time, whichever "
                        f"ends the run first ({_task_defaults('lr_schedule')})")
    parser.add_argument("--weight-decay", type=float, default=argparse.SUPPRESS,
                        help=f"AdamW's decoupled weight decay ({_task_defaults('weight_decay')})")
    parser.add_argument("--select", choices=SELECTIONS, default=argparse.SUPPRESS,
                        help="weights kept as model.safetensors: the last epoch's, or the best validation AUC's "
                        f"({_task_defaults('select')})")
    parser.add_argument("--lr-step-epochs", type=int, default=defaults.lr_step_epochs, help="StepLR: epochs between decays")
    parser.add_argument("--lr-gamma", type=float, default=defaults.lr_gamma, help="StepLR: learning-rate factor per step")
    parser.add_argument("--val-fraction", type=float, default=defaults.val_fraction, help="per-class validation fraction")
    parser.add_argument("--test-fraction", type=float, default=defaults.test_fraction, help="per-class test fraction (without --test-data)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seeds split, initialisation, augmentation")
    parser.add_argument("--crop-fraction", type=float, default=argparse.SUPPRESS,
                        help=f"random square crop side / image side ({_task_defaults('crop_fraction')})")
    parser.add_argument("--no-crop", dest="crop_fraction", action="store_const", const=None, default=argparse.SUPPRESS,
                        help="no random crop")
    parser.add_argument("--rotate", dest="rotate", action="store_true", default=argparse.SUPPRESS,
                        help=f"random rotation by any angle ({_task_defaults('rotate')})")
    parser.add_argument("--no-rotate", dest="rotate", action="store_false", default=argparse.SUPPRESS, help="no random rotation")
    parser.add_argument("--brightness", type=float, nargs=2, default=argparse.SUPPRESS, metavar=("LOW", "HIGH"),
                        help=f"multiply each image by a factor uniform in [LOW, HIGH] ({_task_defaults('brightness')})")
    parser.add_argument("--no-brightness", dest="brightness", action="store_const", const=None, default=argparse.SUPPRESS,
                        help="no brightness jitter")
    parser.add_argument("--twin-batches", action=argparse.BooleanOptionalAction, default=defaults.twin_batches,
                        help="a paired simulated folder (equilens simulate --paired): batch both twins of a lens "
                        "together, augmented alike, so they differ only by substructure (other folders ignore it; "
                        f"default {'on' if defaults.twin_batches else 'off'})")
    parser.add_argument("--max-time", default=None, help="wall-clock cap DD:HH:MM:SS, or 'none': a run it ends early "
                        f"says so and keeps its model ({_task_defaults('max_time')})")
    parser.add_argument("--accelerator", default=defaults.accelerator, help="Lightning accelerator: auto, cpu, gpu ...")
    parser.add_argument("--devices", default=defaults.devices, help="Lightning devices: auto, or a count (several GPUs use DDP)")
    parser.add_argument("--strategy", default=defaults.strategy, help="Lightning strategy (auto, ddp ...)")
    parser.add_argument("--precision", default=defaults.precision, help="Lightning precision: 32-true, 16-mixed, bf16-mixed")
    parser.add_argument("--num-workers", type=int, default=defaults.num_workers, help="data-loader processes")
    parser.add_argument("--runs-dir", default="runs", help="parent folder of run folders")
    parser.add_argument("--name", help="run folder name (default: task-model-group-timestamp)")


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of parsed ``equilens train`` options."""
    names = {f.name for f in fields(TrainConfig)}
    # Options left out are absent (SUPPRESS) or None; either way the config's (recipe) default applies.
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
        run_dir = resume(args.resume, epochs=args.epochs, max_time=args.max_time)
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
    _add_scoring_arguments(parser)


def _add_pretrained_argument(parser: argparse.ArgumentParser) -> None:
    from equilens.pretrained import PRETRAINED

    parser.add_argument("--pretrained", choices=PRETRAINED, help="use a model that ships with equilens instead of "
                        "MODEL (test-iv: trained on the real DeepLense Test IV images; see its model card)")


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
    parser.add_argument("--batch-size", type=int, default=SCORING_BATCH_SIZE, help="images per forward pass")
    parser.add_argument("--device", default="auto", help="auto, cpu, gpu (or cuda), gpu:1 (or cuda:1), mps")
    parser.add_argument("--compile", action="store_true", help="torch.compile the exported model: faster on many "
                        "images, after a one-off compile of seconds (needs a C++ compiler on a CPU)")


def _run_evaluate(args: argparse.Namespace) -> int:
    from equilens.evaluation import evaluate

    if args.pretrained and not args.data:
        raise InputError(f"--pretrained {args.pretrained} has no held-out split of its own: pass --data DIR")
    out, metrics = evaluate(
        _model_path(args.model, args.pretrained), data=args.data, out=args.out, threshold=args.threshold, symmetrize=args.symmetrize,
        n_bootstrap=args.bootstrap, invariance_images=args.invariance_images, batch_size=args.batch_size,
        device=args.device, compiled=args.compile,
    )
    get_task(metrics["task"]).summary(out, metrics)
    return 0


def _add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="[MODEL] PATH",
                        help="training run folder or .safetensors weights file (unless --pretrained), then image "
                        "files or folders (searched recursively)")
    _add_pretrained_argument(parser)
    parser.add_argument("--out", required=True, help="CSV to write: path, score (and class probabilities, or an anomaly model's p-value; "
                        "a regression model: its predicted mean and sigma); unreadable files are skipped and listed in OUT-STEM.errors.csv")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists (and start an interrupted "
                        "predict of it afresh); without it, the same command after a kill resumes where it stopped")
    parser.add_argument("--num-workers", type=int, help="processes decoding images while the model scores "
                        "(default: one per CPU core but one, at most 4; 0: decode in the main process)")
    _add_scoring_arguments(parser)


def _run_predict(args: argparse.Namespace) -> int:
    from equilens.predict import predict

    model, paths = (None, args.inputs) if args.pretrained else (args.inputs[0], args.inputs[1:])
    if not paths:
        raise InputError("name the images to score after MODEL (files or folders)")
    out, errors = predict(_model_path(model, args.pretrained), paths, args.out, batch_size=args.batch_size,
                          symmetrize=args.symmetrize, device=args.device, overwrite=args.overwrite, compiled=args.compile,
                          num_workers=args.num_workers)
    print(f"scores: {out}" + (f"\nunreadable files: {errors}" if errors else ""))
    return 0


def _add_sensitivity_arguments(parser: argparse.ArgumentParser) -> None:
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
    _add_scoring_arguments(parser)


def _run_sensitivity(args: argparse.Namespace) -> int:
    from equilens.sensitivity import DEFAULT_MASS_EDGES_MSUN, print_summary, sensitivity

    out, report = sensitivity(
        _model_path(args.model, args.pretrained), preset=args.preset, mass_edges_msun=args.masses or DEFAULT_MASS_EDGES_MSUN,
        n_per_bin=args.per_mass, profile=args.profile, placement=args.placement, concentration=args.concentration,
        seed=args.seed, out=args.out, n_bootstrap=args.bootstrap, batch_size=args.batch_size, symmetrize=args.symmetrize,
        device=args.device, compiled=args.compile,
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
