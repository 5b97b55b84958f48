"""Train the sequel's chapter 7-8 models as its scripts do, and print the test accuracy per epoch.

    python benchmarks/seq2seq_train.py peeky      # ch07/train_seq2seq.py: PeekySeq2seq, reversed
    python benchmarks/seq2seq_train.py attention  # ch08/train.py: AttentionSeq2seq on dates

The sequel's settings: addition D 16, H 128, batch 128, 25 epochs; dates D 16, H 256, batch 128,
10 epochs; Adam (lr 0.001), gradients clipped at 5; questions reversed. ``--epochs`` stops
early; ``--picture PATH`` (attention) draws the attention map of the first test date after
training; ``--data`` is the folder holding addition.txt and date.txt.
"""

from __future__ import annotations

import argparse
import time

from layerwise.sequel.attention import AttentionSeq2seq, plot_attention
from layerwise.sequel.dataset import sequence
from layerwise.sequel.optimizer import Adam
from layerwise.sequel.seq2seq import PeekySeq2seq, seq2seq_accuracy
from layerwise.sequel.trainer import Trainer

SETTINGS = {
    "peeky": (PeekySeq2seq, "addition.txt", 128, 25),
    "attention": (AttentionSeq2seq, "date.txt", 256, 10),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=SETTINGS)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="/work/shared/data/sequel")
    parser.add_argument("--picture")
    args = parser.parse_args(argv)
    cls, file_name, hidden, epochs = SETTINGS[args.model]
    (x_train, t_train), (x_test, t_test) = sequence.load_data(file_name, data_dir=args.data)
    char_to_id, id_to_char = sequence.get_vocab()
    x_train, x_test = x_train[:, ::-1], x_test[:, ::-1]
    model = cls(len(char_to_id), 16, hidden, seed=args.seed)
    trainer = Trainer(model, Adam(), seed=args.seed)
    start = time.perf_counter()
    for epoch in range(args.epochs or epochs):
        trainer.fit(x_train, t_train, max_epoch=1, batch_size=128, max_grad=5.0, eval_interval=None)
        acc = seq2seq_accuracy(model, x_test, t_test)
        print(
            f"epoch {epoch + 1}: test accuracy {acc:.2%}, {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    if args.picture and args.model == "attention":
        x, t = x_test[:1], t_test[:1]
        guess = model.generate_batch(x, t[:, 0], t.shape[1] - 1)
        question = [id_to_char[int(i)] for i in x[0, ::-1]]  # read forwards again
        width = len("".join(question).rstrip())  # the padding to the right left out
        plot_attention(
            model.decoder.attention_map[0][:, ::-1][:, :width],
            question[:width],
            [id_to_char[int(i)] for i in guess[0]],
            path=args.picture,
        )


if __name__ == "__main__":
    main()
