"""Write pretrained_probabilities.json: the shipped models' class probabilities on the first 8
real Test IV images of each class, the reference that tests/test_pretrained.py holds them to.
Made once under numpy 1.26 with lie_learn installed (the set-up the models were shipped in):
``python tests/data/make_pretrained_probabilities.py``."""

import json
from pathlib import Path

import numpy as np
import torch

from equilens.datasets.folder import load_images
from equilens.models import score_and_probabilities
from equilens.pretrained import pretrained_weights
from equilens.registry import PRETRAINED
from equilens.weights import load_model

REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "test-iv"
files = [f for name in ("no_sub", "sub") for f in sorted((REAL_DATA / name).glob("*.jpg"))[:8]]
reference = {"numpy": np.__version__, "files": [f"{f.parent.name}/{f.name}" for f in files]}
for name in PRETRAINED:
    model, _ = load_model(pretrained_weights(name))
    with torch.no_grad():
        reference[name] = score_and_probabilities(model, load_images(files))[1].double().tolist()
Path(__file__).with_name("pretrained_probabilities.json").write_text(json.dumps(reference, indent=1) + "\n")
