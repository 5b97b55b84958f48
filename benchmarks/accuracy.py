"""Accuracy figures on the full Fashion-MNIST (issue 3), from one command.

    python benchmarks/accuracy.py [--quick]

1. The book's chapter-5 setting: TwoLayerNet 784-50-10, 10,000 iterations, batch 100, SGD
   lr 0.1 (the Trainer: shuffled epochs, so 17 epochs of 600 iterations = 10,200), 3 seeds.
2. A MultiLayerNet with Adam: 784-512-512-10, ReLU, He init, lr 0.001, batch 100, 20 epochs.
3. The wall time of the default `layerwise train` (the shipped sample), as a subprocess.

Prints a markdown table and writes benchmarks/results/accuracy.json.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from layerwise import MultiLayerNet, Trainer, TwoLayerNet
from layerwise.datasets import load_fashion_mnist


def train(network, data, epochs, optimizer, lr, seed):
    (x_train, t_train), (x_test, t_test) = data
    start = time.perf_counter()
    trainer = Trainer(
        network,
        x_train,
        t_train,
        x_test,
        t_test,
        epochs=epochs,
        mini_batch_size=100,
        optimizer=optimizer,
        optimizer_param={"lr": lr},
        verbose=False,
        seed=seed,
    ).train()
    return trainer.test_acc_list[-1], max(trainer.test_acc_list), time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 1 epoch each (smoke test)")
    args = parser.parse_args()
    data = load_fashion_mnist(normalize=False)  # uint8; the Trainer scales each batch
    seeds = [0] if args.quick else [0, 1, 2]
    rows, results = [], {}

    ch5 = [
        train(
            TwoLayerNet(784, 50, 10, dtype=np.float32, seed=s),
            data,
            1 if args.quick else 17,
            "sgd",
            0.1,
            s,
        )
        for s in seeds
    ]
    finals = [r[0] for r in ch5]
    results["chapter5"] = {"seeds": seeds, "test_acc": finals, "seconds": [r[2] for r in ch5]}
    rows.append(
        (
            "TwoLayerNet 784-50-10, SGD 0.1, 10,200 it (ch. 5)",
            f"{np.mean(finals):.4f} +/- {np.std(finals):.4f} ({len(seeds)} seeds)",
            f"{np.mean([r[2] for r in ch5]):.1f} s",
        )
    )

    final, best, seconds = train(
        MultiLayerNet(784, [512, 512], 10, dtype=np.float32, seed=0),
        data,
        1 if args.quick else 20,
        "adam",
        0.001,
        0,
    )
    results["mlp_adam"] = {"test_acc": final, "best_epoch_test_acc": best, "seconds": seconds}
    rows.append(
        (
            "MultiLayerNet 784-512-512-10, Adam 0.001, 20 epochs",
            f"{final:.4f} (best epoch {best:.4f})",
            f"{seconds:.1f} s",
        )
    )

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "layerwise", "train", "--out", out, "--quiet"],
            check=True,
            capture_output=True,
        )
        wall = time.perf_counter() - start
    results["default_train_wall_seconds"] = wall
    rows.append(("`layerwise train` (defaults, shipped sample)", "", f"{wall:.1f} s wall"))

    print("| run | test accuracy | time |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "accuracy.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
