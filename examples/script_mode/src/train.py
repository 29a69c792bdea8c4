"""A tiny training script in SageMaker's script-mode shape: reads the ``train`` channel, fits a
least-squares line, writes the model where SageMaker uploads it from. Runs on any Python image."""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=1)
    args, _ = parser.parse_known_args()
    channel = Path(os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    rows = [row for path in sorted(channel.glob("*.csv")) for row in csv.DictReader(path.open())]
    xs, ys = [float(r["x"]) for r in rows], [float(r["y"]) for r in rows]
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)
    model = {"slope": slope, "intercept": mean_y - slope * mean_x, "epochs": args.epochs, "rows": n}
    print(
        f"train:loss={sum((y - model['slope'] * x - model['intercept']) ** 2 for x, y in zip(xs, ys, strict=True)) / n}"
    )
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "model.json").write_text(json.dumps(model))


if __name__ == "__main__":
    main()
