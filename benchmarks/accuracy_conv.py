"""The book's conv nets on the full Fashion-MNIST with its own training settings (issue 10).

    python benchmarks/accuracy_conv.py [--only convnet deep_convnet] [--epochs N] [--out DIR]

``convnet``: SimpleConvNet (30 filters 5x5, hidden 100), ``deep_convnet``: DeepConvNet (the
book's defaults), and ``convnet_bn`` / ``deep_convnet_bn``, the same with per-channel
BatchNormalization after each convolution (not in the book); all as the book's
``train_convnet.py`` and ``train_deepnet.py`` train them: Adam lr 0.001, batch 100, 20 epochs,
float32 here, seed 0, one BLAS thread. After every epoch the test accuracy on the full test set
(and the training accuracy on the first 10,000 training images) is recorded with the epoch's
wall time. ``benchmarks/accuracy.py`` runs the first two too.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from layerwise import DeepConvNet, SimpleConvNet, Trainer, blas_threads
from layerwise.datasets import load_fashion_mnist

RESULTS = Path(__file__).resolve().parent / "results"
NETWORKS = {
    "convnet": lambda seed: SimpleConvNet(dtype=np.float32, seed=seed),
    "deep_convnet": lambda seed: DeepConvNet(dtype=np.float32, seed=seed),
    # Not the book's: per-channel BatchNorm after each convolution (issue 10's stretch).
    "convnet_bn": lambda seed: SimpleConvNet(use_batchnorm=True, dtype=np.float32, seed=seed),
    "deep_convnet_bn": lambda seed: DeepConvNet(use_batchnorm=True, dtype=np.float32, seed=seed),
}


def run_conv(key, epochs=20, seed=0, data=None, log=print):
    """Train ``key`` the book's way; returns test accuracy and seconds of every epoch."""
    (x_train, t_train), (x_test, t_test) = data or load_fashion_mnist(
        normalize=False, flatten=False
    )
    network = NETWORKS[key](seed)
    trainer = Trainer(
        network,
        x_train,
        t_train,
        x_test,
        t_test,
        epochs=epochs,
        mini_batch_size=100,
        optimizer="Adam",
        optimizer_param={"lr": 0.001},
        evaluate_sample_num_per_epoch=len(x_test),  # the full test set
        verbose=False,
        seed=seed,
    )
    seconds = []
    with blas_threads(1):
        for epoch in range(1, epochs + 1):
            trainer.epochs = epoch  # train() runs the remaining epochs: one at a time, timed
            trainer.max_iter = epoch * trainer.iter_per_epoch
            start = time.perf_counter()
            trainer.train()
            seconds.append(time.perf_counter() - start)
            log(
                f"{key} epoch {epoch:>2}: test {trainer.test_acc_list[-1]:.4f} "
                f"train {trainer.train_acc_list[-1]:.4f} ({seconds[-1]:.1f} s)"
            )
    return {
        "network": network.get_config(),
        "test_acc": trainer.test_acc_list,
        "train_acc": trainer.train_acc_list,
        "seconds": seconds,
        "final_loss": float(np.mean(trainer.train_loss_list[-trainer.iter_per_epoch :])),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="*", choices=list(NETWORKS), default=["convnet", "deep_convnet"]
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="the network's and the batches' seed")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "accuracy_conv.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for key in args.only:
        name = key if args.seed == 0 else f"{key}_seed{args.seed}"
        results[name] = run_conv(key, args.epochs, seed=args.seed)
        results[name]["date"] = time.strftime("%Y-%m-%d %H:%M")
        path.write_text(json.dumps(results, indent=1))
        r = results[name]
        print(
            f"| {name} | {r['test_acc'][-1]:.4f} (best {max(r['test_acc']):.4f}) | "
            f"{np.mean(r['seconds']):.0f} s per epoch |",
            flush=True,
        )


if __name__ == "__main__":
    main()
