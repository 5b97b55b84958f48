"""``layerwise export``: a saved model as a PyTorch state_dict and/or an ONNX model."""

from __future__ import annotations

from .. import interop
from ..files import load, read_training
from ..interop.onnx_bridge import DEFAULT_OPSET, MIN_OPSET
from ..run_folders import model_file
from ._common import UsageError, positive_int, refuse_sequel

#: The ONNX metadata entry where ``export`` records the dataset the model was trained on.
ONNX_DATASET_KEY = "layerwise.dataset"


def add_parser(sub):
    p = sub.add_parser(
        "export", help="write a saved model as a PyTorch state_dict and/or an ONNX model"
    )
    p.add_argument("model", help="a model .npz, or the run folder holding it")
    p.add_argument("--torch", metavar="OUT.pt", help="the state_dict of to_torch's module")
    p.add_argument("--onnx", metavar="OUT.onnx", help="an ONNX model (float32, logits)")
    p.add_argument(
        "--softmax", action="store_true", help="with --onnx: output probabilities, not logits"
    )
    p.add_argument(
        "--opset",
        type=positive_int,
        help=f"with --onnx: the ONNX opset, {MIN_OPSET} to the installed onnx's newest "
        f"(default {DEFAULT_OPSET}, which onnxruntime 1.18 and later read)",
    )
    p.set_defaults(func=run, parser=p)


def run(args):
    if args.torch is None and args.onnx is None:
        raise UsageError("say what to write: --torch OUT.pt, --onnx OUT.onnx, or both")
    if args.softmax and args.onnx is None:
        raise UsageError("--softmax applies to --onnx (a torch state_dict holds weights only)")
    if args.opset is not None and args.onnx is None:
        raise UsageError("--opset applies to --onnx")
    model = model_file(args.model)
    refuse_sequel(model)
    network = load(model)
    if args.torch is not None:
        module = interop.save_torch(network, args.torch)
        print(f"wrote {args.torch}: the state_dict of this module (to_torch of the model)")
        print(module)
        print(
            f"load it with: module = layerwise.interop.to_torch(layerwise.load({str(model)!r})); "
            f"module.load_state_dict(torch.load({str(args.torch)!r}, weights_only=True))"
        )
    if args.onnx is not None:
        dataset = (read_training(model) or {}).get("options", {}).get("dataset")
        metadata = {ONNX_DATASET_KEY: dataset} if dataset else {}
        interop.to_onnx(
            network, args.onnx, softmax=args.softmax, opset=args.opset, metadata=metadata
        )
        shape = ", ".join(map(str, interop.OnnxModel(args.onnx).input_shape))
        what = "probabilities" if args.softmax else "logits"
        print(f"wrote {args.onnx}: float32 input (N, {shape}) -> {what} (N, classes)")
        print(
            f"check it with: layerwise evaluate {args.onnx}"
            + (f" --dataset {dataset}" if dataset else "")
        )
    return 0
