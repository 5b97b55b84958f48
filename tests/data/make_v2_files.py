"""The files of tests/data/v2_*: written by layerwise at commit fcae149, before networks declared
their plans (`python make_v2_files.py tests/data`); test_files.py checks that they still load."""

import sys

import numpy as np

import layerwise
from layerwise import MultiLayerNetExtend, SimpleConvNet, Trainer, TwoLayerNet, save

print(layerwise.__file__, layerwise.__version__)
out = sys.argv[1] + "/"
rng = np.random.default_rng(0)
two = TwoLayerNet(6, 5, 3, seed=1)
save(two, out + "v2_two_layer_net.npz")
conv = SimpleConvNet(
    (1, 6, 6),
    {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1},
    4,
    3,
    use_batchnorm=True,
    dtype="float32",
    seed=2,
)
x_img = rng.uniform(0, 1, (8, 1, 6, 6)).astype(np.float32)
conv.loss(x_img, rng.integers(0, 3, 8), train_flg=True)  # running statistics move off 0 and 1
save(conv, out + "v2_simple_conv_net_batchnorm.npz")
x = rng.uniform(0, 1, (20, 6))
t = rng.integers(0, 3, 20)
net = MultiLayerNetExtend(
    6, [5], 3, use_dropout=True, dropout_ration=0.2, use_batchnorm=True, seed=3
)
tr = Trainer(net, x, t, x[:10], t[:10], epochs=2, mini_batch_size=5, verbose=False, seed=0)
tr.epochs = 1
tr.train()
tr.epochs = 2
tr.save_checkpoint(out + "v2_checkpoint_extend.npz")
tr.train()
np.savez(
    out + "v2_expected.npz",
    x=x,
    t=t,
    x_img=x_img,
    two_layer=two.predict(x, train_flg=False),
    simple_conv=conv.predict(x_img, train_flg=False),
    resumed_W1=tr.network.params["W1"],
    resumed_loss=np.array(tr.train_loss_list),
)
