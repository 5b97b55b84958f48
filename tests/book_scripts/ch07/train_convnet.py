# Chapter 7: the book's Trainer on the chapter's own SimpleConvNet; weights saved where asked.
import sys, os
sys.path.append(os.pardir)
import numpy as np
from dataset.mnist import load_mnist
from simple_convnet import SimpleConvNet
from common.trainer import Trainer

(x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
np.random.seed(0)  # the weights and, through the book's Trainer, the minibatches

max_epochs = 3
network = SimpleConvNet(input_dim=(1, 28, 28),
                        conv_param={'filter_num': 8, 'filter_size': 5, 'pad': 0, 'stride': 1},
                        hidden_size=30, output_size=10, weight_init_std=0.01)

trainer = Trainer(network, x_train, t_train, x_test, t_test,
                  epochs=max_epochs, mini_batch_size=50,
                  optimizer='Adam', optimizer_param={'lr': 0.002},
                  evaluate_sample_num_per_epoch=200)
trainer.train()

print("train_loss_list:" + str(len(trainer.train_loss_list)))
print("test_acc_list:" + str(len(trainer.test_acc_list)))
network.save_params(sys.argv[1])
print("Saved Network Parameters!")
