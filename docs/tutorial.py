"""equilens from Python, end to end in about a minute on a CPU (CI runs it: .ci/run).

1. simulate a few Test IV-like lenses with and without substructure;
2. score them with the shipped model from NumPy arrays, and check the scores against
   `equilens predict` on the same files;
3. train a tiny model with your own Lightning Trainer on the equilens LightningModule and
   LightningDataModule;
4. draw the lenses with their scores (the README's figure: --figure docs/assets/lenses.png).

    uv run python docs/tutorial.py --out tutorial-out
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import lightning
import numpy as np
from PIL import Image

import equilens
from equilens.cli import main as equilens_command


def draw(images: np.ndarray, scores: np.ndarray, path: Path) -> None:
    """The first row of images is no_sub, the second sub; each titled with its p(substructure)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = len(images) // 2
    figure, axes = plt.subplots(2, columns, figsize=(1.6 * columns, 3.6))
    for axis, image, score, k in zip(axes.flat, images, scores, range(len(images))):
        axis.imshow(np.arcsinh(image / 0.02), cmap="magma")  # asinh stretch: faint arcs and the bright core
        axis.set_title(f"{'sub' if k >= columns else 'no_sub'}  p={score:.3f}", fontsize=8)
        axis.set_axis_off()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("tutorial-out"))
    parser.add_argument("--figure", type=Path, help="also draw the scored lenses here (PNG)")
    args = parser.parse_args()

    # 1. Simulate: 6 lenses per class in the calibrated Test IV look, as 8-bit JPEG files.
    data = equilens.simulate_dataset(args.out / "lenses", 6, equilens.get_preset("test-iv"), seed=1, file_format="jpg",
                                     progress=False)
    files = sorted((data / "no_sub").glob("*.jpg")) + sorted((data / "sub").glob("*.jpg"))

    # 2. Score arrays with the shipped model: the pixels as Pillow decodes them (uint8).
    model = equilens.load("test-iv", device="cpu")
    pixels = np.stack([np.asarray(Image.open(f)) for f in files])
    scores = model.score(pixels)
    print("p(substructure):", np.round(scores, 3))

    # ... the same numbers `equilens predict` writes for the files.
    table = args.out / "scores.csv"
    equilens_command(["predict", "--pretrained", "test-iv", str(data), "--out", str(table), "--overwrite", "--device", "cpu"])
    written = {row["path"]: float(row["p_substructure"]) for row in csv.DictReader(table.open())}
    assert np.allclose(scores, [written[str(f)] for f in files], rtol=1e-5, atol=1e-6), "API and CLI disagree"
    print("the API's scores match `equilens predict`'s")

    # 3. Your own Trainer: the module and data `equilens train` would fit (a tiny model here;
    # one pass of one batch per epoch, where the recipe would lengthen a small set's epochs).
    config = equilens.TrainConfig(data=str(data), input_size=33, widths=[2, 4], accelerator="cpu", val_fraction=0.2,
                                  test_fraction=0.2, min_images_per_epoch=0, min_batches_per_epoch=0)
    module, datamodule = equilens.lightning_modules(config)
    trainer = lightning.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                                enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, datamodule=datamodule)
    # A smoke run, not a model: two steps on 8 images, validated on 2.
    print(f"own Trainer (a smoke run: 2 steps, 2 validation images): {trainer.current_epoch} epochs, "
          f"validation AUC {float(trainer.callback_metrics['val_auc']):.3f}")

    if args.figure:
        draw(pixels / 255.0, scores, args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
