"""Build ``src/layerwise/data/fashion_mnist_sample.npz`` from the full Fashion-MNIST files.

Selection (deterministic, no randomness): the first 500 images of each class from the
training file and the first 100 of each class from the test file, kept in file order.
That is 5000 + 1000 uint8 images, about 2.6 MB compressed (the limit is 3 MB).

The archive is written like ``np.savez_compressed`` (a zip of ``.npy`` files named
``x_train``, ``t_train``, ``x_test``, ``t_test``) but with a fixed timestamp on every entry,
so re-running the script reproduces the shipped file byte for byte.

Usage::

    python tools/make_sample.py [--source /usr/share/datasets/fashion-mnist] [--out PATH]

Fashion-MNIST: Copyright (c) 2017 Zalando SE, MIT license,
https://github.com/zalandoresearch/fashion-mnist
"""

import argparse
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from layerwise.datasets import DEBIAN_FASHION_MNIST_DIR, SAMPLE_PATH, load_fashion_mnist  # noqa: E402

TRAIN_PER_CLASS = 500
TEST_PER_CLASS = 100


def first_per_class(labels, per_class):
    """Indices of the first ``per_class`` examples of each label, in file order."""
    keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])
    return np.sort(keep)


def build_arrays(source):
    """Return the sample's arrays, keyed as in the ``.npz``, from the four files in ``source``."""
    (x_train, t_train), (x_test, t_test) = load_fashion_mnist(
        normalize=False, flatten=False, data_dir=source, download=False
    )
    train = first_per_class(t_train, TRAIN_PER_CLASS)
    test = first_per_class(t_test, TEST_PER_CLASS)
    # Stored as (N, 28, 28) uint8: the smallest form; load_sample reshapes.
    return {
        "x_train": x_train[train, 0],
        "t_train": t_train[train],
        "x_test": x_test[test, 0],
        "t_test": t_test[test],
    }


def write_npz(path, arrays):
    """Write ``arrays`` as a compressed ``.npz`` whose bytes depend only on the arrays."""
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            entry = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEBIAN_FASHION_MNIST_DIR)
    parser.add_argument("--out", type=Path, default=SAMPLE_PATH)
    args = parser.parse_args(argv)
    arrays = build_arrays(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, arrays)
    sizes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): {sizes}")


if __name__ == "__main__":
    main()
