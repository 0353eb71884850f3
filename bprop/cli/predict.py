"""``bprop predict``: predictions of a saved model for images, .npy or .csv rows."""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict", help="predict classes for image files, .npy or .csv rows",
        description="Predict with MODEL for each INPUT: PNG/JPEG images (grayscale, resized to the "
                    "model's square input, pixels scaled to [0, 1], inverted when the background is "
                    "light, since MNIST digits are light on dark), .npy arrays or .csv rows of features.")
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("inputs", metavar="INPUT", nargs="+")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--top", type=int, default=3, help="show the top K class probabilities")
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
    results = []
    for path in args.inputs:
        X, lines, header = read_rows(path, network.sizes[0])
        if header is not None:
            print(f"{path}: line {header[0]} read as a header and skipped: {header[1][:80]}", file=sys.stderr)
        output = network.predict_proba(X)
        predictions = network.predict(X)
        for row, (out, prediction) in enumerate(zip(output, predictions)):
            item = {"input": path, "row": row}
            if lines is not None:
                item["line"] = lines[row]  # the file's own line number
            if network.is_classifier:
                item["prediction"] = int(prediction)
                order = np.argsort(out)[::-1][:max(1, args.top)]
                item["top"] = [[int(k), float(out[k])] for k in order]
            else:
                item["prediction"] = np.atleast_1d(prediction).tolist()
            results.append(item)
    if args.json:
        print(json.dumps(results))
        return 0
    for item in results:
        if "line" in item:
            where = f"{item['input']} line {item['line']}"
        else:
            where = item["input"] + (f"[{item['row']}]" if item["row"] or item["input"].endswith(".npy") else "")
        line = f"{where}: {item['prediction']}"
        if "top" in item:
            line += "  (" + ", ".join(f"{k}: {p:.3f}" for k, p in item["top"]) + ")"
        print(line)
    return 0
