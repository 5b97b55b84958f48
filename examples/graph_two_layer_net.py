"""Record one training step of the book's TwoLayerNet and draw it as the book draws it (5.7).

    python examples/graph_two_layer_net.py [OUT]   # .png (default), .svg, or .dot (no Graphviz)
"""

import sys

from layerwise import TwoLayerNet
from layerwise.datasets import load_sample
from layerwise.viz import record

out = sys.argv[1] if len(sys.argv) > 1 else "two_layer_net.png"

(x_train, t_train), _ = load_sample()
x_batch, t_batch = x_train[:100], t_train[:100]
network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, seed=0)

# Every forward and backward call inside the block is noted, with what flowed each way.
with record() as graph:
    grads = network.gradient(x_batch, t_batch)

# The drawing takes the network's names for its layers, and the book's L for the loss.
for name, layer in network.layers.items():
    graph.label(layer, name=name)
graph.label(network.last_layer, name="SoftmaxWithLoss", output="L")
graph.title = "TwoLayerNet: one step on a batch of 100 (forward above, backward below in red)"

print(graph)
print(f"wrote {graph.save(out)}")
