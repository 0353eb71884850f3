"""The sweep's spec: reading and checking it, and the trials it names.

A spec (see ``bprop.sweep``) is read from YAML or JSON by ``load_spec``, changed by
``--set`` flags (``spec_with_sets``), checked by ``check_spec``, and expanded by
``expand`` into trials, each a full run configuration named by a hash of it.
"""
import hashlib
import itertools
import json
import math
import numbers
import os
import re
from dataclasses import dataclass

from bprop.errors import InputError

METHODS = ("grid", "random")
GOALS = ("max", "min")
DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform")
SPEC_KEYS = ("method", "trials", "sample_seed", "metric", "goal", "options", "search")
MAX_TRIALS = 10_000
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass
class Trial:
    """One configuration of a sweep: its id, the full run configuration and the searched values."""

    trial_id: str
    config: dict
    params: dict


def load_spec(path):
    """Read a sweep spec from a YAML or JSON file."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        raise InputError(f"sweep spec {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a sweep spec; give the .yaml or .json file") from None
    try:
        if path.endswith(".json"):
            spec = json.loads(text)
        else:
            from bprop import extras

            yaml = extras.load("reading a YAML sweep spec", "yaml")
            spec = yaml.safe_load(text)
    except ValueError as error:  # json.JSONDecodeError
        raise InputError(f"{path} is not valid JSON: {error}") from None
    except RecursionError:
        raise InputError(f"{path} is nested too deeply to be a sweep spec") from None
    except Exception as error:  # yaml.YAMLError, without importing yaml at module level
        if type(error).__module__.startswith("yaml"):
            raise InputError(f"{path} is not valid YAML: {' '.join(str(error).split())}") from None
        raise
    if not isinstance(spec, dict):
        raise InputError(f"{path} must hold a mapping with 'options' and 'search'; got {type(spec).__name__}")
    return spec


def parse_set(text):
    """``"key=v1,v2"`` → ``("key", [v1, v2])``; values are numbers, JSON lists, true/false or strings.

    Commas inside brackets do not split: ``hidden=30,[100,30]`` is two values.
    """
    key, sep, values = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key or not values.strip():
        raise InputError(f"--set takes KEY=VALUE[,VALUE...], like learning_rate=0.01,0.1; got {text!r}")
    parts, depth, current = [], 0, ""
    for char in values:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    if depth != 0 or any(not part.strip() for part in parts):
        raise InputError(f"--set {text!r}: empty value or unbalanced brackets")
    return key, [_parse_value(part.strip()) for part in parts]


def _parse_value(text):
    if _NUMBER.match(text):
        return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
    if text[:1] in "[{" or text in ("true", "false", "null"):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            raise InputError(f"cannot read the value {text!r}; lists are written like [100,30]") from None
    return text


def spec_with_sets(spec, sets):
    """The spec with ``--set`` flags applied: one value fixes an option, several search it."""
    spec = dict(spec or {})
    options, search = dict(spec.get("options") or {}), dict(spec.get("search") or {})
    for text in sets:
        key, values = parse_set(text)
        options.pop(key, None)
        search.pop(key, None)
        if len(values) == 1:
            options[key] = values[0]
        else:
            search[key] = values
    spec["options"], spec["search"] = options, search
    return spec


def check_spec(spec):
    """The spec with defaults filled in and every field checked; raises InputError."""
    if not isinstance(spec, dict):
        raise InputError("a sweep spec is a mapping with 'options' and 'search'")
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise InputError(f"unknown sweep spec key(s) {', '.join(unknown)}; known: {', '.join(SPEC_KEYS)}")
    method = spec.get("method") or "grid"
    if method not in METHODS:
        raise InputError(f"unknown sweep method {method!r}; expected grid or random")
    options = spec.get("options") or {}
    search = spec.get("search") or {}
    if not isinstance(options, dict) or not isinstance(search, dict):
        raise InputError("the spec's 'options' and 'search' must be mappings of option names to values")
    if not search:
        raise InputError("nothing to search: give 'search' in the spec or --set KEY=V1,V2 with several values")
    both = sorted(set(options) & set(search))
    if both:
        raise InputError(f"{', '.join(both)} is both fixed in 'options' and searched in 'search'; keep one")
    options = {key: _clean(value) for key, value in options.items()}
    checked = {}
    for key, values in search.items():
        values = _clean(values)
        if isinstance(values, dict):
            if method == "grid":
                raise InputError(f"search.{key}: a grid needs a list of values; ranges like "
                                 f"{{{next(iter(values), 'uniform')}: ...}} are for method: random")
            checked[key] = _check_distribution(key, values)
        elif isinstance(values, list) and values:
            checked[key] = values
        else:
            raise InputError(f"search.{key} must be a non-empty list of values; got {values!r}")
    trials = spec.get("trials")
    if method == "random":
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise InputError(f"method: random needs trials: N, a positive number of trials; got {trials!r}")
    elif trials is not None:
        raise InputError("trials: applies to method: random; a grid runs every combination")
    count = trials if method == "random" else math.prod(len(values) for values in checked.values())
    if count > MAX_TRIALS:  # each trial is a run folder: refuse before listing them
        raise InputError(f"the sweep names {count:,} trials, more than the {MAX_TRIALS:,} one sweep "
                         "runs; search fewer values, or split it into several sweeps")
    sample_seed = spec.get("sample_seed", 0)
    if isinstance(sample_seed, bool) or not isinstance(sample_seed, int) or sample_seed < 0:
        raise InputError(f"sample_seed must be an integer >= 0; got {sample_seed!r}")
    metric = spec.get("metric") or "validation_accuracy"
    if not isinstance(metric, str):
        raise InputError(f"metric must be the name of a run summary value; got {metric!r}")
    goal = spec.get("goal") or ("min" if metric.endswith("cost") else "max")
    if goal not in GOALS:
        raise InputError(f"goal must be max or min; got {goal!r}")
    return {"method": method, "trials": trials, "sample_seed": sample_seed, "metric": metric,
            "goal": goal, "options": options, "search": checked}


def _clean(value):
    """Numbers that YAML left as strings (``1e-3``) become numbers; tuples become lists."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return _parse_value(value.strip())
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _check_distribution(key, distribution):
    if len(distribution) != 1 or next(iter(distribution)) not in DISTRIBUTIONS:
        raise InputError(f"search.{key} must be a list or one of {{uniform|log_uniform|int_uniform: [low, high]}}; "
                         f"got {distribution!r}")
    (kind, bounds), = distribution.items()
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, numbers.Real) and not isinstance(b, bool) and math.isfinite(b) for b in bounds)
            or bounds[0] > bounds[1]):
        raise InputError(f"search.{key}.{kind} needs [low, high] with low <= high; got {bounds!r}")
    if kind == "log_uniform" and bounds[0] <= 0:
        raise InputError(f"search.{key}.log_uniform needs low > 0; got {bounds!r}")
    if kind == "int_uniform" and not all(float(b).is_integer() for b in bounds):
        raise InputError(f"search.{key}.int_uniform needs integer bounds; got {bounds!r}")
    return {kind: bounds}



def expand(spec, resolve=None):
    """The trials of a checked spec, in order, each with a stable id; duplicates are dropped.

    ``resolve(config)`` turns the fixed options plus one trial's values into the full
    configuration that is hashed and run (default: the identity).
    """
    resolve = resolve or (lambda config: config)
    keys = list(spec["search"])
    if spec["method"] == "grid":
        combinations = (dict(zip(keys, values))
                        for values in itertools.product(*(spec["search"][k] for k in keys)))
        wanted = None
    else:
        combinations = _random_combinations(spec["search"], spec["sample_seed"])
        wanted = spec["trials"]
    trials, seen = [], set()
    for attempt, params in enumerate(combinations):
        if wanted is not None and (len(trials) == wanted or attempt >= 50 * wanted):
            break
        config = resolve({**spec["options"], **params})
        tid = trial_id(config)
        if tid not in seen:
            seen.add(tid)
            trials.append(Trial(tid, config, params))
    return trials


def _random_combinations(search, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    while True:
        params = {}
        for key, values in search.items():
            if isinstance(values, list):
                params[key] = values[int(rng.integers(len(values)))]
                continue
            (kind, (low, high)), = values.items()
            if kind == "int_uniform":
                params[key] = int(rng.integers(int(low), int(high) + 1))
            elif kind == "uniform":
                params[key] = _round(rng.uniform(low, high))
            else:
                params[key] = _round(math.exp(rng.uniform(math.log(low), math.log(high))))
        yield params


def _round(x, digits=4):
    """A sampled float to ``digits`` significant digits: readable, and the same on every machine."""
    return float(f"{x:.{digits - 1}e}")


def trial_id(config):
    """12 hex digits of SHA-256 over the configuration as canonical JSON."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def resolve_run_config(config):
    """A ``bprop train`` configuration in full (defaults filled), in one canonical form.

    Layer lists are lists of ints, float options hold floats (``1`` and ``1.0`` are the
    same trial), and data paths are absolute, since workers may run in another folder.
    """
    from bprop import runs

    config = dict(config)
    for key in ("hidden", "sizes"):
        if isinstance(config.get(key), numbers.Integral) and not isinstance(config[key], bool):
            config[key] = [config[key]]
    config = runs.resolve_config(config)
    for key, default in runs.DEFAULTS.items():
        value = config.get(key)
        if isinstance(default, float) and isinstance(value, numbers.Integral) and not isinstance(value, bool):
            config[key] = float(value)
    dataset = config.get("dataset")
    if isinstance(dataset, str) and dataset.split(":", 1)[0] in ("csv", "npz") and ":" in dataset:
        kind, rest = dataset.split(":", 1)
        path, hash_, column = rest.partition("#")
        config["dataset"] = f"{kind}:{os.path.abspath(os.path.expanduser(path))}{hash_}{column}"
    if config.get("data_dir"):
        config["data_dir"] = os.path.abspath(os.path.expanduser(config["data_dir"]))
    return config

