"""What the playground costs training, how often the page updates, and a step's round trip.

    python -m benchmarks.playground [--seconds 8] [--repeats 3]

For each case, training throughput (examples/s) is measured twice, interleaved:
``fit`` alone in a subprocess (the same network, data and options, Trainer with the
validation set, no callbacks), and the playground as a user runs it: ``bprop playground``
in a subprocess and the page in headless Chromium (Playwright) with training playing, so
the browser's drawing takes its share of the machine's two cores too. The page's own
counters (mini-batches, updates per second) are read from the page. The round trip is
the time from POSTing "one mini-batch" to the frame showing it arriving on the event stream.
Needs /usr/bin/chromium and playwright; MNIST is used when $BPROP_DATA (or the default data
folder) has it.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.parse

CASES = {
    "circles": {  # [2, 4, 4, 1] tanh, mini-batches of 10
        "data": {"name": "circles"}, "network": {"hidden": [4, 4], "activations": ["tanh", "tanh"]},
        "training": {"batch_size": 10, "learning_rate": 0.1}},
    "digits": {   # [64, 100, 10] ReLU + softmax, mini-batches of 32
        "data": {"name": "digits"}, "network": {"hidden": [100], "activations": ["relu"], "output": "softmax"},
        "training": {"batch_size": 32, "learning_rate": 0.1}},
    "mnist": {    # [784, 100, 10] ReLU + softmax, mini-batches of 32
        "data": {"name": "mnist"}, "network": {"hidden": [100], "activations": ["relu"], "output": "softmax"},
        "training": {"batch_size": 32, "learning_rate": 0.1}},
}

FIT_ALONE = textwrap.dedent("""
    import json, sys, time
    from bprop.playground import config as page_config, datasets
    from bprop.playground.session import Session
    from bprop.training import Callback, Trainer
    config = page_config.parse(json.loads(sys.argv[1]))
    seconds = float(sys.argv[2])
    session = Session(config)          # the same network, data and options as the page's
    network, dataset = session.network, session.dataset
    options = dict(config["training"]); options.pop("speed")
    class Stop(Callback):
        def on_train_begin(self, trainer):
            self.start = time.perf_counter()
        def on_epoch_end(self, trainer, record):
            if time.perf_counter() - self.start > seconds:
                trainer.stop = True
    stop = Stop()
    trainer = Trainer(network, epochs=10**6, callbacks=[stop], **options)
    trainer.run(*dataset.train, validation_data=dataset.validation)
    elapsed = time.perf_counter() - stop.start
    print(json.dumps({"examples_per_second": trainer.epoch * len(dataset.train[1]) / elapsed}))
""")


def fit_alone(config, seconds):
    result = subprocess.run([sys.executable, "-c", FIT_ALONE, json.dumps(config), str(seconds)],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["examples_per_second"]


def url_for(base, config):
    keys = {"data": config["data"]["name"], "hidden": ",".join(map(str, config["network"]["hidden"])),
            "act": ",".join(config["network"]["activations"]), "bs": config["training"]["batch_size"],
            "lr": config["training"]["learning_rate"], "speed": 0}
    if "output" in config["network"]:
        keys["out"] = config["network"]["output"]
    return base + "?" + urllib.parse.urlencode(keys)


def with_page(browser, base, config, seconds, n_train, batch_size):
    """(examples/s, updates/s) with the page open and training playing."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(url_for(base, config))
        page.wait_for_function("document.getElementById('cost').textContent !== '–'", timeout=60000)
        page.click("#play")
        page.wait_for_timeout(1500)                                   # warm up
        read = "[performance.now(), parseInt(document.getElementById('batches').textContent), " \
               "parseInt(document.getElementById('rate').textContent) || 0]"
        t0, b0, _ = page.evaluate(read)
        rates = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            page.wait_for_timeout(1000)
            rates.append(page.evaluate(read)[2])
        t1, b1, _ = page.evaluate(read)
        page.click("#play")
        # mini-batches per epoch is ceil(n / batch): count examples as the trainer does
        n_batches = -(-n_train // batch_size)
        examples = (b1 - b0) / n_batches * n_train
        return examples / ((t1 - t0) / 1000), statistics.median(rates)
    finally:
        page.close()


def round_trip(base, config, repeats=40):
    """Median seconds from POSTing one mini-batch to its frame arriving, and of the POST alone."""
    import http.client
    import threading

    parts = urllib.parse.urlsplit(base)

    def post(path, body):
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        data = connection.getresponse().read()
        connection.close()
        return json.loads(data)

    session = post("/api/session", {"config": config})
    arrived, lock = [], threading.Condition()

    def listen():
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        connection.request("GET", f"/api/session/{session['id']}/events")
        response = connection.getresponse()
        while True:
            line = response.fp.readline()
            if not line:
                return
            if line.startswith(b"data: "):
                frame = json.loads(line[6:])
                with lock:
                    arrived.append((time.perf_counter(), frame["batches"]))
                    lock.notify_all()

    threading.Thread(target=listen, daemon=True).start()
    time.sleep(0.5)
    trips, posts = [], []
    for i in range(1, repeats + 1):
        time.sleep(0.1)                                               # apart from the last frame
        started = time.perf_counter()
        post(f"/api/session/{session['id']}/control", {"action": "batch"})
        posts.append(time.perf_counter() - started)
        with lock:
            while not any(batches == i for _, batches in arrived):
                lock.wait(10)
            trips.append(next(t for t, batches in arrived if batches == i) - started)
    post(f"/api/session/{session['id']}/close", {})
    return statistics.median(trips), statistics.median(posts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from bprop.playground import config as page_config, datasets

    process = subprocess.Popen([sys.executable, "-m", "bprop", "playground", "--no-browser"],
                               stdout=subprocess.PIPE, text=True)
    base = re.search(r"http://\S+/", process.stdout.readline()).group(0)
    results = {"load_average_before": os.getloadavg()}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            for name in args.cases.split(","):
                raw = CASES[name]
                config = page_config.parse(json.loads(json.dumps(raw)))
                try:
                    n_train = len(datasets.load(config["data"]).train[1])
                except Exception as error:  # MNIST not on disk
                    print(f"{name}: skipped ({error})")
                    continue
                alone, paged, rates = [], [], []
                fit_alone(raw, 1.0)                          # warm up: numba's caches, the data files
                for repeat in range(args.repeats):           # interleaved, the order alternating
                    for which in (("alone", "page") if repeat % 2 == 0 else ("page", "alone")):
                        if which == "alone":
                            alone.append(fit_alone(raw, args.seconds))
                        else:
                            speed, rate = with_page(browser, base, raw, args.seconds, n_train,
                                                    config["training"]["batch_size"])
                            paged.append(speed)
                            rates.append(rate)
                trip, post = round_trip(base, raw)
                results[name] = {
                    "fit_alone_examples_per_second": statistics.median(alone),
                    "with_page_examples_per_second": statistics.median(paged),
                    "ratio": statistics.median(paged) / statistics.median(alone),
                    "ratios": [p / a for p, a in zip(paged, alone)],
                    "updates_per_second": statistics.median(rates),
                    "round_trip_ms": 1000 * trip, "post_ms": 1000 * post,
                }
                r = results[name]
                print(f"{name}: fit alone {r['fit_alone_examples_per_second']:,.0f} ex/s, with the page "
                      f"{r['with_page_examples_per_second']:,.0f} ex/s (ratio {r['ratio']:.3f}; "
                      f"each repeat {', '.join(f'{x:.3f}' for x in r['ratios'])}), "
                      f"{r['updates_per_second']:.0f} updates/s, one mini-batch round trip "
                      f"{r['round_trip_ms']:.1f} ms (POST {r['post_ms']:.1f} ms)", flush=True)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
