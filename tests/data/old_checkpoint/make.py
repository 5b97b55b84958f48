"""Write a run interrupted mid-epoch with the code of this checkout (tests/data/old_checkpoint)."""

import signal
import sys

from layerwise import training
from layerwise.cli import main

step = training.Trainer.train_step


def train_step(self, x, t):
    if self.iteration == 6:  # Ctrl-C during iteration 7 of 20: stops after it, mid-epoch
        signal.raise_signal(signal.SIGINT)
    return step(self, x, t)


training.Trainer.train_step = train_step
sys.exit(main(sys.argv[1:]))
