"""``bprop evaluate``: a saved model's accuracy, cost, per-class precision/recall and confusion matrix."""


def add_parser(subparsers):
    parser = subparsers.add_parser("evaluate", help="evaluate a saved model on a data set",
                                   description="Accuracy, cost, per-class precision and recall, "
                                               "and the confusion matrix of MODEL on a data set split.")
    parser.add_argument("model", metavar="MODEL", help="a .npz model (or checkpoint) written by bprop")
    parser.add_argument("--dataset", default="digits", help="digits, mnist, fashion-mnist, csv:PATH or npz:PATH")
    parser.add_argument("--data-dir", help="where MNIST files are looked for")
    parser.add_argument("--split", choices=["test", "validation", "train"], default="test")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="seed of the train/validation/test split of data sets without their own "
                             "test set (default 0, as `bprop train` uses)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(run=run)


def run(args):
    import json

    import bprop
    from bprop import metrics
    from bprop.data import load_dataset
    from bprop.errors import InputError

    network = bprop.load(args.model)
    data = load_dataset(args.dataset, data_dir=args.data_dir, seed=args.split_seed)
    split = getattr(data, args.split)
    if split is None:
        raise InputError(f"{data.name} has no {args.split} split; choose another --split")
    X, y = split
    if network.sizes[0] != X.shape[1]:
        raise InputError(f"the model expects {network.sizes[0]} features but {data.name} has "
                         f"{X.shape[1]}; evaluate it on the data set it was trained on")
    if network.sizes[-1] != len(data.class_names) and not (network.sizes[-1] == 1 and len(data.class_names) == 2):
        raise InputError(f"the model has {network.sizes[-1]} outputs but {data.name} has "
                         f"{len(data.class_names)} classes")
    if network.class_names is not None and network.class_names != data.class_names:
        raise InputError(f"the model was trained on the classes {_shown(network.class_names)} but "
                         f"{data.name} has {_shown(data.class_names)}; evaluate it on its own data set")
    result = network.evaluate(X, y)
    matrix = metrics.confusion_matrix(y, network.predict(X), len(data.class_names))
    precision, recall, support = metrics.per_class(matrix)
    if args.json:
        print(json.dumps({
            "dataset": data.name, "split": args.split, "n": result["n"], "accuracy": result["accuracy"],
            "cost": result["cost"], "classes": data.class_names, "precision": precision.tolist(),
            "recall": recall.tolist(), "support": support.tolist(), "confusion_matrix": matrix.tolist(),
        }))
        return 0
    print(f"{data.name} {args.split} split, {result['n']} examples: accuracy {result['accuracy']:.2%}, "
          f"cost {result['cost']:.4f}")
    width = max(8, *(len(name) for name in data.class_names))
    print(f"\n{'class':<{width}}  precision   recall  support")
    for name, p, r, s in zip(data.class_names, precision, recall, support):
        print(f"{name:<{width}}  {p:9.2%}  {r:7.2%}  {s:7d}")
    print("\nconfusion matrix (rows: true class, columns: predicted)")
    cell = max(4, len(str(matrix.max())) + 1)
    print(" " * width + "".join(f"{k:>{cell}}" for k in range(len(data.class_names))))
    for name, row in zip(data.class_names, matrix):
        print(f"{name:<{width}}" + "".join(f"{v:>{cell}}" for v in row))
    return 0


def _shown(names, limit=5):
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
