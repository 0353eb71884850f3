"""A sweep's report: one row per trial, the best of them, results.csv and sweep.png."""
import csv
import io as _stringio
import json
import math
import numbers
import os

from bprop import io

# Summary values written to results.csv when a trial reports them.
SUMMARY_COLUMNS = ("validation_accuracy", "best_validation_accuracy", "test_accuracy",
                   "train_accuracy", "test_cost", "epochs_run", "seconds")


def result_row(trial, result, runs_dir, out_dir, metric):
    """One results.csv row: id, status, the searched values, then the summary's numbers."""
    run_dir = os.path.join(runs_dir, trial.trial_id)
    row = {"trial_id": trial.trial_id, "status": "missing", **trial.params}
    summary = {}
    if result is not None:
        row["status"] = result.get("status", "missing")
        summary = result.get("summary") or {}
    for key in SUMMARY_COLUMNS:
        if key in summary:
            row[key] = summary[key]
    if metric and metric not in row:
        row[metric] = summary.get(metric)
    for key, value in summary.items():
        if key not in row and isinstance(value, numbers.Real):
            row[key] = value
    if (result or {}).get("wall_seconds") is not None:
        row["wall_seconds"] = result["wall_seconds"]
    row["run_dir"] = os.path.relpath(run_dir, out_dir)
    row["error"] = (result or {}).get("error")
    row["reused"] = bool((result or {}).get("reused"))
    return row


def _score(row, metric):
    value = row.get(metric)
    if row.get("status") != "finished" or not isinstance(value, numbers.Real) or isinstance(value, bool):
        return None
    return float(value) if math.isfinite(value) else None


def best_row(rows, metric, goal="max"):
    """The finished row with the best ``metric`` (first of equals), or None."""
    scored = [(score, i) for i, row in enumerate(rows) if (score := _score(row, metric)) is not None]
    if not scored:
        return None
    sign = 1 if goal == "max" else -1
    return rows[max(scored, key=lambda pair: (sign * pair[0], -pair[1]))[1]]


def format_value(value):
    """A searched value as text: lists as JSON (``[100, 30]``), floats with %g."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def write_results(path, rows, searched, metric):
    """results.csv, atomically: trial_id, status, searched options, metric, the rest."""
    first = ["trial_id", "status", *searched, metric]
    rest = []
    for row in rows:
        for key in row:
            if key not in first and key not in rest and key not in ("run_dir", "error", "reused"):
                rest.append(key)
    columns = first + rest + ["run_dir", "error"]
    buffer = _stringio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else
                         (format_value(row[c]) if c in searched else row[c]) for c in columns])
    io.write_text(path, buffer.getvalue())


def plot_results(path, rows, search, metric, goal, best=None):
    """One panel per searched option: every finished trial's metric against the option's value.

    ``search`` is the spec's search mapping (or just the option names). For a list of
    values (not a random range) a line joins the best score at each value; a star marks
    the best trial. Ranges drawn log-uniformly, and positive values spanning two decades or
    more, get a log axis; lists of non-numbers are shown in the spec's order.
    """
    from bprop import plots

    plt = plots.pyplot("drawing sweep.png")
    if not isinstance(search, dict):
        search = {key: None for key in search}
    n = len(search)
    columns = min(n, 3)
    n_rows = math.ceil(n / columns)
    figure, axes = plt.subplots(n_rows, columns, figsize=(4.2 * columns, 3.4 * n_rows), squeeze=False)
    pick = max if goal == "max" else min
    legend = {}
    for axis, (key, values) in zip(axes.flat, search.items()):
        points = [(row[key], score) for row in rows if (score := _score(row, metric)) is not None]
        numeric = all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x, _ in points)
        labels = None
        if numeric:
            xs = [float(x) for x, _ in points]
        else:
            labels = [format_value(v) for v in values] if isinstance(values, list) else []
            for row in rows:
                if format_value(row[key]) not in labels:
                    labels.append(format_value(row[key]))
            xs = [labels.index(format_value(x)) for x, _ in points]
        ys = [score for _, score in points]
        legend["trials"] = axis.scatter(xs, ys, s=22, alpha=0.55, color="tab:blue")
        by_value = {}
        for x, y in zip(xs, ys):
            by_value[x] = pick(by_value.get(x, y), y)
        if isinstance(values, list) or (values is None and len(by_value) < len(xs)):  # not a range
            ordered = sorted(by_value)
            legend[f"{goal} over the other options"], = axis.plot(
                ordered, [by_value[x] for x in ordered], "-", color="tab:blue", alpha=0.8)
        if best is not None:
            bx = float(best[key]) if numeric else labels.index(format_value(best[key]))
            legend["best trial"] = axis.scatter([bx], [_score(best, metric)], marker="*", s=180,
                                                color="tab:red", zorder=3)
        log = isinstance(values, dict) and "log_uniform" in values
        if numeric and xs and min(xs) > 0 and (log or max(xs) / min(xs) >= 100):
            axis.set_xscale("log")
        if labels is not None:
            axis.set_xticks(range(len(labels)))
            axis.set_xlim(-0.5, len(labels) - 0.5)
            axis.set_xticklabels(labels, rotation=20 if max(map(len, labels), default=0) > 6 else 0)
        axis.set_xlabel(key)
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[n:]:
        axis.set_visible(False)
    if legend:
        axes.flat[0].legend(list(legend.values()), list(legend), fontsize=8, loc="best")
    finished = sum(_score(row, metric) is not None for row in rows)
    figure.suptitle(f"{metric} of {finished} finished trial{'s' * (finished != 1)}")
    figure.tight_layout()
    plots.save(figure, path)
