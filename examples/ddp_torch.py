"""Train a layerwise network on several processes with PyTorch's DistributedDataParallel.

layerwise trains on one process; to go wider this example hands the network to an existing
engine instead of growing its own. `to_torch` turns it into a `torch.nn.Sequential`
(what `layerwise export --torch` writes), and DistributedDataParallel (DDP) trains that:

- every process holds a full replica of the module; DDP copies rank 0's parameters to the
  others when it wraps the module, so all start equal;
- each process runs forward and backward on its own share of every minibatch (here the
  batch is cut into `--workers` equal slices);
- during backward DDP averages the gradients across the processes with an all-reduce
  (gloo, over local TCP), so every replica takes the same SGD step and stays equal.

Because the loss is the mean over the batch, the mean of the slices' mean gradients is the
gradient of the whole batch: N processes compute the same step as one (to rounding) for
networks without Dropout and BatchNorm (DDP normalises each slice with its own statistics
and draws its own masks). `--check` trains the same steps in one plain-torch process and
compares the parameters; it exits 1 when they differ.

After training, rank 0 turns the module back into layerwise (`from_torch`), saves it as a
layerwise model file and prints its accuracy on the test sample.

    python examples/ddp_torch.py [--model model.npz] [--epochs 1] [--batch-size 100]
        [--lr 0.1] [--workers 2] [--train-size 5000] [--dtype float32] [--out ddp.npz] [--check]
"""

import argparse
import datetime
import socket
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

import layerwise
from layerwise import TwoLayerNet
from layerwise.datasets import load_sample
from layerwise.interop import from_torch, to_torch


def load_data(input_shape, train_size, dtype):
    """The shipped Fashion-MNIST sample as tensors, each image shaped as the network takes it."""
    (x_train, t_train), (x_test, t_test) = load_sample()
    x_train = x_train[:train_size].reshape(-1, *input_shape).astype(dtype)
    x_test = x_test.reshape(-1, *input_shape).astype(dtype)
    return torch.from_numpy(x_train), torch.from_numpy(t_train[:train_size]), x_test, t_test


def minibatches(train_size, batch_size, epoch, seed):
    """The indices of each full minibatch of one epoch: the same in every process."""
    order = np.random.default_rng([seed, epoch]).permutation(train_size)
    for i in range(train_size // batch_size):  # the last partial batch is dropped
        yield torch.from_numpy(order[i * batch_size : (i + 1) * batch_size])


def train_rank(rank, args, network, init_method):
    """One DDP process: train on slice `rank` of every minibatch; rank 0 saves the result."""
    torch.set_num_threads(1)  # one core per process: the processes are the parallelism
    dist.init_process_group(
        "gloo",
        init_method=init_method,
        rank=rank,
        world_size=args.workers,
        timeout=datetime.timedelta(seconds=60),  # a peer that died fails us, not hangs us
    )
    try:
        x, t, x_test, t_test = load_data(network.input_shape, args.train_size, args.dtype)
        model = DistributedDataParallel(to_torch(network))
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
        for epoch in range(args.epochs):
            for batch in minibatches(len(x), args.batch_size, epoch, args.seed):
                mine = batch.chunk(args.workers)[rank]
                optimizer.zero_grad()
                loss = F.cross_entropy(model(x[mine]), t[mine])  # SoftmaxWithLoss: batch mean
                loss.backward()  # DDP all-reduces the gradients here, averaging over ranks
                optimizer.step()
            if rank == 0:
                print(f"epoch {epoch + 1}  loss of rank 0's last slice {loss.item():.4f}")
        if rank == 0:
            trained = from_torch(model.module.eval(), input_shape=network.input_shape)
            layerwise.save(trained, args.out)
            print(f"test accuracy {trained.accuracy(x_test, t_test):.4f}")
            print(f"saved {args.out}")
    finally:
        dist.destroy_process_group()


def train_single(network, args):
    """The same steps in one process with plain torch: whole minibatches, no DDP."""
    torch.set_num_threads(1)
    x, t, _, _ = load_data(network.input_shape, args.train_size, args.dtype)
    model = to_torch(network)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        for batch in minibatches(len(x), args.batch_size, epoch, args.seed):
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), t[batch]).backward()
            optimizer.step()
    return from_torch(model.eval(), input_shape=network.input_shape)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_processes(args, network, timeout):
    """Start one process per rank; however it ends, no process outlives this call."""
    init_method = f"tcp://127.0.0.1:{free_port()}"
    ctx = mp.get_context("spawn")  # what macOS and Windows use; no state inherited by fork
    procs = [
        ctx.Process(target=train_rank, args=(rank, args, network, init_method))
        for rank in range(args.workers)
    ]
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + timeout
        # Stop waiting as soon as one fails: its peers would wait for it in the all-reduce.
        while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
            if any(p.exitcode not in (None, 0) for p in procs):
                break
            time.sleep(0.1)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
    failed = {rank: p.exitcode for rank, p in enumerate(procs) if p.exitcode != 0}
    if failed:
        raise RuntimeError(f"DDP processes failed (rank: exit code, negative = signal): {failed}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a layerwise model file (default: a new TwoLayerNet)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=2, help="DDP processes (default 2)")
    parser.add_argument("--train-size", type=int, default=5000, help="first N training images")
    parser.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="of a new network; a model file keeps its own",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="ddp_model.npz", help="the trained layerwise model")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before giving up")
    parser.add_argument("--check", action="store_true", help="compare with one process")
    args = parser.parse_args()
    if args.batch_size % args.workers:
        parser.error("--batch-size must be a multiple of --workers (equal slices)")

    if args.model:
        network = layerwise.load(args.model)
        args.dtype = network.dtype.name  # a model trains in its own dtype
        if network.input_shape is None:  # images suit every first layer: Affine flattens them
            network.input_shape = (1, 28, 28)
    else:
        network = TwoLayerNet(784, 50, 10, dtype=args.dtype, seed=args.seed)
    run_processes(args, network, args.timeout)

    if args.check:
        ddp = layerwise.load(args.out).params
        single = train_single(network, args).params
        rtol = 1e-5 if args.dtype == "float32" else 1e-10
        worst = max(
            float(np.max(np.abs(ddp[k] - single[k]) / np.max(np.abs(single[k])))) for k in single
        )
        print(
            f"DDP on {args.workers} processes vs one process: worst relative difference "
            f"{worst:.1e} ({'OK' if worst <= rtol else 'MISMATCH'}, tolerance {rtol:.0e})"
        )
        if worst > rtol:
            sys.exit(1)


if __name__ == "__main__":
    main()
