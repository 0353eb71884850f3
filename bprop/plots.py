"""The run folder's pictures, drawn with matplotlib (imported only when a plot is drawn).

Each function writes one PNG atomically (temporary file, then rename).
"""
import math
import numpy as np


def pyplot(feature="drawing the plots"):
    """matplotlib.pyplot on the file-only Agg backend; one line naming the extra when missing.

    ``feature`` names what is being drawn, for that line (see ``bprop.extras``).
    """
    from bprop import extras

    matplotlib = extras.load(feature, "matplotlib")
    matplotlib.use("Agg")
    return extras.load(feature, "matplotlib.pyplot")


def save(figure, path):
    """Write ``figure`` to ``path`` as PNG, atomically, and close it."""
    from bprop.io import atomic_file

    try:
        with atomic_file(path) as file:
            figure.savefig(file, dpi=110, format="png")
    finally:
        pyplot().close(figure)


def learning_curves(history, path, title="", best_epoch=None):
    """Cost and accuracy against epoch, training and validation side by side; a dashed
    line marks ``best_epoch``, the epoch model-best.npz holds."""
    plt = pyplot()
    epochs = [record["epoch"] for record in history]
    has_accuracy = any(record.get("accuracy") is not None for record in history)
    figure, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(10 if has_accuracy else 5.5, 4))
    axes = np.atleast_1d(axes)
    panels = [("cost", "Cost (mean per example)")] + ([("accuracy", "Accuracy")] if has_accuracy else [])
    for axis, (key, label) in zip(axes, panels):
        for prefix, name, style in (("", "training", "-o"), ("validation_", "validation", "-s")):
            values = [record.get(prefix + key) for record in history]
            if any(v is not None for v in values):
                axis.plot(epochs, [np.nan if v is None else v for v in values], style,
                          markersize=3, label=name)
        if best_epoch is not None:
            axis.axvline(best_epoch, color="gray", linestyle="--", linewidth=1,
                         label=f"model-best.npz (epoch {best_epoch})")
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
        axis.legend()
        if key == "accuracy":
            axis.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    save(figure, path)


def confusion_matrix(matrix, class_names, path, title="Confusion matrix (test set)"):
    """Counts of true class (rows) against predicted class (columns)."""
    plt = pyplot()
    n = len(class_names)
    size = min(max(4.5, 0.55 * n + 2), 16)  # at most 16 inches, however many classes
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    if n <= 50:  # more names than that would not be readable: the axes count the classes instead
        axis.set_xticks(range(n), class_names, rotation=45 if max(map(len, class_names)) > 2 else 0,
                        ha="right" if max(map(len, class_names)) > 2 else "center")
        axis.set_yticks(range(n), class_names)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    threshold = matrix.max() / 2 if matrix.size else 0
    if n <= 20:
        for i in range(n):
            for j in range(n):
                axis.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                          color="white" if matrix[i, j] > threshold else "black")
    axis.set_title(title)
    figure.tight_layout()
    save(figure, path)


def first_layer_weights(weights, image_shape, path, limit=64, model_name=""):
    """Each first-layer neuron's weights w_j· drawn as an image of the input's shape."""
    plt = pyplot()
    count = min(len(weights), limit)
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.1 * columns + 0.5, 1.1 * rows + 0.6))
    axes = np.atleast_1d(axes).ravel()
    for j, axis in enumerate(axes):
        axis.axis("off")
        if j < count:
            w = weights[j].reshape(image_shape)
            limit_value = np.abs(w).max() or 1.0
            axis.imshow(w, cmap="RdBu_r", vmin=-limit_value, vmax=limit_value)
            axis.set_title(str(j), fontsize=6)
    figure.suptitle(f"First-layer weights (red +, blue -), {count} of {len(weights)} neurons"
                    + (f"\n{model_name}" if model_name else ""))
    figure.tight_layout()
    save(figure, path)


def misclassified(X, y_true, y_pred, image_shape, class_names, path, limit=36, model_name=""):
    """A grid of test images the network got wrong, each titled 'true → predicted'."""
    plt = pyplot()
    wrong = np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))[:limit]
    columns = max(1, min(6, len(wrong)))
    rows = max(1, math.ceil(len(wrong) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(1.7 * columns + 0.4, 1.9 * rows + 0.6))
    axes = np.atleast_1d(axes).ravel()
    for axis in axes:
        axis.axis("off")
    for axis, i in zip(axes, wrong):
        axis.imshow(X[i].reshape(image_shape), cmap="gray_r")
        axis.set_title(f"{class_names[y_true[i]]} → {class_names[y_pred[i]]}", fontsize=8, color="darkred")
    heading = (f"Misclassified test examples (true → predicted), {len(wrong)} shown"
               if len(wrong) else "No misclassified test examples")
    figure.suptitle(heading + (f"\n{model_name}" if model_name else ""))
    figure.tight_layout()
    save(figure, path)
