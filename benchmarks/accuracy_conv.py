"""The book's conv nets on the full Fashion-MNIST with its own training settings (issue 10).

    python benchmarks/accuracy_conv.py [--only convnet deep_convnet] [--epochs N] [--seed S]
                                       [--torch] [--out DIR]

``convnet``: SimpleConvNet (30 filters 5x5, hidden 100), ``deep_convnet``: DeepConvNet (the
book's defaults), and ``convnet_bn`` / ``deep_convnet_bn``, the same with per-channel
BatchNormalization after each convolution (not in the book); all as the book's
``train_convnet.py`` and ``train_deepnet.py`` train them: Adam lr 0.001, batch 100, 20 epochs,
float32 here, seed 0, one BLAS thread. After every epoch the test accuracy on the full test set
(and the training accuracy on the first 10,000 training images) is recorded with the epoch's
wall time. ``benchmarks/accuracy.py`` runs the first two too.

``--torch`` trains the same network in PyTorch instead (one thread; ``nn.Conv2d``, ``nn.MaxPool2d``,
``nn.Linear``, torch's inverted Dropout; ``torch.optim.Adam`` with the book's lr 0.001 and eps
1e-7), from layerwise's initial weights of the same seed, over the same kind of batches (a fresh
permutation of the training set each epoch, batch 100): a yardstick for how much of a result is the
seed. Results go under ``torch_KEY`` (``_seedS``).
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


def train_by_epoch(trainer, report=None):
    """Run ``trainer`` one epoch at a time; return the wall seconds of each epoch.

    The Trainer keeps accuracies but not times: raising ``epochs`` by one before each
    ``train()`` (which runs the remaining epochs) times every epoch, its evaluation included.
    ``report(epoch, seconds)`` is called after each epoch.
    """
    total, seconds = trainer.epochs, []
    for epoch in range(1, total + 1):
        trainer.epochs = epoch
        start = time.perf_counter()
        trainer.train()
        seconds.append(time.perf_counter() - start)
        if report is not None:
            report(epoch, seconds[-1])
    return seconds


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

    def report(epoch, seconds):
        log(
            f"{key} epoch {epoch:>2}: test {trainer.test_acc_list[-1]:.4f} "
            f"train {trainer.train_acc_list[-1]:.4f} ({seconds:.1f} s)"
        )

    with blas_threads(1):
        seconds = train_by_epoch(trainer, report)
    return {
        "network": network.get_config(),
        "test_acc": trainer.test_acc_list,
        "train_acc": trainer.train_acc_list,
        "seconds": seconds,
        "final_loss": float(np.mean(trainer.train_loss_list[-trainer.iter_per_epoch :])),
    }


def run_torch(key, epochs=20, seed=0, data=None, log=print):
    """Train ``key`` the same way in PyTorch; returns what :func:`run_conv` returns."""
    import torch
    from workloads import torch_conv_model

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    (x_train, t_train), (x_test, t_test) = data or load_fashion_mnist(flatten=False)
    name = {"convnet": "SimpleConvNet", "deep_convnet": "DeepConvNet"}[key]
    model = torch_conv_model(name, NETWORKS[key](seed).params)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_train, x_test = torch.from_numpy(x_train), torch.from_numpy(x_test)
    t_train, t_test = torch.from_numpy(t_train.astype(np.int64)), torch.from_numpy(t_test)
    rng = np.random.default_rng(seed)
    test_acc, seconds = [], []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        for idx in np.array_split(rng.permutation(len(x_train)), len(x_train) // 100):
            idx = torch.from_numpy(idx)
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x_train[idx]), t_train[idx]).backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
        model.eval()
        with torch.no_grad():
            predicted = torch.cat([model(x).argmax(1) for x in x_test.split(1000)])
        test_acc.append(float((predicted == t_test).double().mean()))
        log(f"torch_{key} epoch {epoch:>2}: test {test_acc[-1]:.4f} ({seconds[-1]:.1f} s)")
    return {"test_acc": test_acc, "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="*", choices=list(NETWORKS), default=["convnet", "deep_convnet"]
    )
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="the network's and the batches' seed")
    parser.add_argument("--torch", action="store_true", help="train in PyTorch (see above)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "accuracy_conv.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for key in args.only:
        name = ("torch_" if args.torch else "") + key
        name += "" if args.seed == 0 else f"_seed{args.seed}"
        run = run_torch if args.torch else run_conv
        results[name] = run(key, args.epochs, seed=args.seed)
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
