"""Hyper-parameter sweeps: grid or random search over run options, one run folder per trial, on Dask.

Three modules, one job each: ``spec`` (read, check and expand a spec into trials),
``running`` (run the trials that have not finished, on Dask) and ``report`` (the rows,
the best trial, results.csv and sweep.png). Their public names are offered here.

A spec names fixed run options and the options to search (the keys of ``bprop train``'s
configuration, see ``bprop.runs.DEFAULTS``)::

    method: grid                  # or random
    metric: validation_accuracy   # a key of each run's summary; goal: max (min for *_cost)
    options: {dataset: digits, epochs: 10}
    search:
      learning_rate: [0.01, 0.1, 1.0]
      hidden: [[30], [100], [100, 30]]

For ``method: random``, ``trials: N`` configurations are drawn (seeded by
``sample_seed``); a search value is then a list to choose from or a range
``{log_uniform: [1e-4, 1e-1]}``, ``{uniform: [0, 0.5]}``, ``{int_uniform: [16, 256]}``.

The sweep folder holds::

    sweep.json          the spec, as checked
    runs/<trial_id>/    one normal run folder per trial, plus result.json
    results.csv         one row per trial
    sweep.png           the metric against each searched option
    .lock               held by the running sweep (``bprop.locks``): a second sweep into the folder is refused

Each trial is deterministic from its configuration (which includes the training seed)
and is named by a hash of it, the trial id. ``result.json`` is written atomically as the
trial's last act: with status ``finished`` it is the finished marker. A finished trial
is never run again, neither by a resumed sweep nor when Dask recomputes a task whose
worker died after finishing it. A trial killed mid-way (no marker) runs again,
continuing from its run folder's last checkpoint. A trial that failed (a bad option, a
diverged run: status ``failed``) keeps its result.json for the record and is tried
again when the sweep is resumed, in case the cause has been fixed. Ctrl-C or SIGTERM to
the sweep's process writes ``.stop``: every running trial finishes its mini-batch,
writes its checkpoint and stops, trials not started are skipped, and the command exits
non-zero saying how to continue; the continued trials end bit-identical.
"""
from bprop.sweep.report import SUMMARY_COLUMNS, best_row, format_value, plot_results, result_row, write_results
from bprop.sweep.running import (RESULT, SweepResult, finished_result, plan, read_result, run_sweep,
                                 run_trial, train_trial)
from bprop.sweep.spec import (DISTRIBUTIONS, GOALS, METHODS, SPEC_KEYS, Trial, check_spec, expand, load_spec,
                              parse_set, resolve_run_config, spec_with_sets, trial_id)

__all__ = ["load_spec", "parse_set", "spec_with_sets", "check_spec", "expand", "trial_id", "plan",
           "resolve_run_config", "Trial", "run_sweep", "run_trial", "train_trial", "read_result",
           "finished_result", "SweepResult", "best_row", "format_value", "result_row",
           "write_results", "plot_results", "RESULT", "METHODS", "GOALS", "DISTRIBUTIONS",
           "SPEC_KEYS", "SUMMARY_COLUMNS"]
