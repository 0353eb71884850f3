"""``bprop predict``: predictions of a saved model for images, .npy or .csv rows."""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict", help="predict classes for image files, .npy or .csv rows",
        description="Predict with MODEL for each INPUT: pictures (PNG, JPEG, ...), .npy arrays or "
                    ".csv rows of features. A picture is prepared the way the model's training "
                    "images were made (for MNIST: transparency composited, dark-on-light inverted, "
                    "uneven light removed, the ink cropped, scaled to 20 pixels and centred by its "
                    "centre of mass in 28 x 28).")
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("inputs", metavar="INPUT", nargs="+")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (each class as its index and its name)")
    parser.add_argument("--top", type=int, default=3, help="show the K most likely classes (default 3)")
    parser.set_defaults(run=run)


def run(args):
    import json

    import numpy as np

    import bprop
    import sys

    from bprop.inputs import read_rows

    from bprop import validation

    validation.positive_int(args.top, "--top")
    network = bprop.load(args.model)
    names = network.class_names
    kind = output_kind(network)
    results = []
    for path in args.inputs:
        X, lines, header = read_rows(path, network.sizes[0], network.image_format)
        if header is not None:
            print(f"{path}: line {header[0]} read as a header and skipped: {header[1][:80]}", file=sys.stderr)
        output = network.predict_proba(X)
        predictions = network.predict(X)
        for row, (out, prediction) in enumerate(zip(output, predictions)):
            item = {"input": path, "row": row}
            if lines is not None:
                item["line"] = lines[row]  # the file's own line number
            if kind == "regression":
                item["prediction"] = np.atleast_1d(prediction).tolist()
                results.append(item)
                continue
            item["prediction"] = int(prediction)
            item["class_name"] = class_name(names, int(prediction))
            if kind == "binary":  # one sigmoid unit: a = P(class 1)
                scores = np.array([1.0 - out[0], out[0]])
            else:
                scores = out
            order = np.argsort(scores, kind="stable")[::-1][:args.top]
            key = "output" if kind == "sigmoid outputs" else "probability"
            item["outputs" if kind == "sigmoid outputs" else "top"] = [
                {"index": int(k), "class_name": class_name(names, int(k)), key: float(scores[k])}
                for k in order]
            results.append(item)
    if args.json:
        print(json.dumps(results))
        return 0
    for item in results:
        if "line" in item:
            where = f"{item['input']} line {item['line']}"
        else:
            where = item["input"] + (f"[{item['row']}]" if item["row"] or item["input"].endswith(".npy") else "")
        if kind == "regression":
            print(f"{where}: {item['prediction']}")
        elif kind == "sigmoid outputs":
            shown = ", ".join(f"{o['class_name']} {o['output']:.3f}" for o in item["outputs"])
            print(f"{where}: {item['class_name']}  (independent sigmoid outputs, not probabilities: {shown})")
        else:
            shown = ", ".join(f"{o['class_name']} {o['probability']:.1%}" for o in item["top"])
            print(f"{where}: {item['class_name']}  ({shown})")
    return 0


def output_kind(network):
    """How to read the outputs: "distribution" (softmax), "binary" (one sigmoid unit),
    "sigmoid outputs" (several independent sigmoid units) or "regression"."""
    if not network.is_classifier:
        return "regression"
    if network.activations[-1].name == "softmax":
        return "distribution"
    return "binary" if network.sizes[-1] == 1 else "sigmoid outputs"


def class_name(names, index):
    return names[index] if names is not None else str(index)
