"""Train a registered model on training digits and write its self-describing checkpoint.

    python -m pruning.train --model lenet            # 4,000 training digits shipped in data/train (offline)
    python -m pruning.train --model lenet --data full  # torchvision's 60,000 (needs internet)
"""
from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from models import create_model, get_model_entry, list_models

from .checkpoint import CHECKPOINT_DIR, save_checkpoint
from .data import (DigitSet, builtin_heldout, download_mnist, load_mnist_test, normalize, official_test_split,
                   package_train_digits)
from .evaluate import accuracy

EPOCHS = {"lenet": 40, "convnet": 40, "mlp": 40}
MNIST_BACKGROUND = float(normalize(torch.zeros(1, 28, 28, dtype=torch.uint8)).flatten()[0])


def random_affine(x: torch.Tensor, generator: torch.Generator, degrees: float = 14.0,
                  scale: float = 0.10, shift_px: float = 3.0) -> torch.Tensor:
    """Random rotation/scale/shift per digit; x: (N, 1, H, W) normalized; background stays background."""
    n, _, h, _ = x.shape
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(degrees)
    factor = 1 + (torch.rand(n, generator=generator) * 2 - 1) * scale
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * shift_px * 2 / h  # pixels -> [-1, 1] units
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)          # (N, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # shift so the background is 0 (grid_sample fills with zeros), sample, shift back
    return F.grid_sample(x - MNIST_BACKGROUND, grid, align_corners=False) + MNIST_BACKGROUND


def train(model_name: str, train_set: DigitSet, epochs: int, seed: int = 0, batch_size: int = 64,
          lr: float = 3e-3) -> tuple[nn.Module, list[float]]:
    """AdamW + one-cycle with random affine augmentation; returns the model and per-epoch losses."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    padding = get_model_entry(model_name).input_padding
    model = create_model(model_name)
    images, labels = normalize(train_set.images), train_set.labels
    steps_per_epoch = math.ceil(len(labels) / batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs,
                                                   steps_per_epoch=steps_per_epoch)
    losses = []
    for epoch in range(epochs):
        model.train()
        order, total = torch.randperm(len(labels), generator=generator), 0.0
        for start in range(0, len(labels), batch_size):
            index = order[start:start + batch_size]
            x = F.pad(random_affine(images[index], generator), [padding] * 4, value=MNIST_BACKGROUND)
            loss = F.cross_entropy(model(x), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(index)
        losses.append(total / len(labels))
        print(f"epoch {epoch + 1:3d}/{epochs}  loss {losses[-1]:.4f}", flush=True)
    return model.eval(), losses


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=list_models(), required=True)
    parser.add_argument("--data", choices=["package", "full"], default="package",
                        help="package: 4,000 MNIST training digits shipped in data/train (offline); "
                             "full: torchvision's 60,000 (needs internet)")
    parser.add_argument("--data-root", default=".cache/mnist", help="download folder for --data full")
    parser.add_argument("--test-dir", help="directory with the official MNIST test split, to record its accuracy "
                                           "(default: the split shipped in data/mnist)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="output file (default checkpoints/<model>.pt)")
    args = parser.parse_args(argv)
    train_set = package_train_digits() if args.data == "package" else download_mnist(args.data_root, True)
    epochs = args.epochs or EPOCHS[args.model]
    started = time.perf_counter()
    model, losses = train(args.model, train_set, epochs, args.seed)
    metrics = {"train_seconds": round(time.perf_counter() - started, 1), "final_loss": losses[-1]}
    eval_sets = [builtin_heldout(), load_mnist_test(args.test_dir) if args.test_dir else official_test_split()]
    for eval_set in eval_sets:
        metrics[eval_set.describe()] = accuracy(model, args.model, eval_set)
    out = args.out or str(CHECKPOINT_DIR / f"{args.model}.pt")
    training = {"data": train_set.describe(), "epochs": epochs, "seed": args.seed, "optimizer": "AdamW+OneCycle",
                "augmentation": "random affine: rotation +-14 deg, scale +-10%, shift +-3 px"}
    model_args = dict(get_model_entry(args.model).default_args)
    digest = save_checkpoint(out, args.model, model, model_args, training=training, metrics=metrics)
    print(f"wrote {out}  sha256 {digest}")
    for key, value in metrics.items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
