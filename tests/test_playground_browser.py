"""The playground page in a real headless Chromium, driven as a user drives it (Playwright).

Needs Debian's chromium at /usr/bin/chromium and Playwright for Python (the test extra);
without them these tests skip and say why. Set BPROP_PLAYGROUND_SCREENSHOTS=DIR to keep
the screenshot of each view (the README's pictures come from here).
"""
import os
import re
import shutil

import pytest

from test_playground_cli import start, stop

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                               "(pip install playwright; never `playwright install`)")
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def url():
    process, address = start()
    yield address
    stop(process)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.problems = []
    page.on("console", lambda message: message.type in ("error", "warning") and page.problems.append(message.text))
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    yield page
    problems = page.problems
    page.close()
    assert problems == [], problems


def screenshot(page, name, tmp_path):
    path = tmp_path / f"playground-{name}.png"
    page.screenshot(path=str(path))
    folder = os.environ.get("BPROP_PLAYGROUND_SCREENSHOTS")
    if folder:
        shutil.copy(path, os.path.join(folder, path.name))
    return path


def canvas_data(page, selector):
    return page.eval_on_selector(selector, "canvas => canvas.toDataURL()")


def first_frame(page):
    page.wait_for_function("document.getElementById('cost').textContent !== '–'", timeout=20000)


def test_the_page_loads_with_no_console_errors_and_its_state_in_the_url(page, url):
    page.goto(url + "?hidden=3,2&act=relu,tanh&lr=0.03")
    first_frame(page)
    assert page.locator(".layer-row .count").all_inner_texts() == ["3", "2"]
    assert page.input_value("#opt-learning_rate") == "0.03"
    page.click("#add-layer")
    page.wait_for_function("location.search.includes('hidden=3%2C2%2C2')")


def test_training_a_toy_set_makes_the_shown_cost_fall_and_the_heat_maps_change(page, url, tmp_path):
    page.goto(url + "?data=circles&hidden=6,4&act=tanh,tanh&lr=0.3&speed=100")
    first_frame(page)
    cost_before = float(page.inner_text("#cost"))
    map_before, network_before = canvas_data(page, "#output-map"), canvas_data(page, "#net-canvas")
    page.click("#play")
    page.wait_for_function("parseFloat(document.getElementById('epoch').textContent) >= 60", timeout=60000)
    page.click("#play")
    page.wait_for_function("document.getElementById('play').textContent.includes('Play')")
    page.wait_for_timeout(300)
    assert float(page.inner_text("#cost")) < 0.7 * cost_before
    assert canvas_data(page, "#output-map") != map_before
    assert canvas_data(page, "#net-canvas") != network_before
    page.check("#show-gradients")
    screenshot(page, "train", tmp_path)


def test_one_mini_batch_at_a_time(page, url):
    page.goto(url)
    first_frame(page)
    page.click("#one-batch")
    page.wait_for_function("document.getElementById('batches').textContent === '1'")
    page.click("#one-batch")
    page.wait_for_function("document.getElementById('batches').textContent === '2'")


def test_drawing_a_digit_on_a_briefly_trained_model_shows_a_prediction(page, url, tmp_path):
    pytest.importorskip("sklearn", reason="the digits data set needs scikit-learn")
    page.goto(url + "?data=digits&hidden=32&act=relu&out=softmax&cost=cross_entropy&bs=16&lr=0.1&speed=0")
    first_frame(page)
    page.click("#play")
    page.wait_for_function("parseFloat(document.getElementById('epoch').textContent) >= 5", timeout=60000)
    page.click("#play")
    assert page.locator("#images canvas").count() == 32
    page.click("#tabs .tab[data-view=draw]")
    box = page.locator("#pad").bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 90, y + 70)
    page.mouse.down()
    for step in range(12):                      # a "7": across the top, then down to the left
        page.mouse.move(x + 90 + step * 10, y + 70)
    for step in range(14):
        page.mouse.move(x + 200 - step * 6, y + 70 + step * 12)
    page.mouse.up()
    page.wait_for_function("document.getElementById('prediction').textContent !== '–'")
    assert page.locator("#bars .bar").count() == 10
    assert page.inner_text("#prediction") in [str(d) for d in range(10)]
    assert page.locator("#draw-layers .act-layer").count() == 2
    screenshot(page, "draw", tmp_path)


def test_stepping_through_mazurs_example_shows_his_numbers(page, url, tmp_path):
    page.goto(url + "?view=step&ex=mazur-222&dec=9")
    page.wait_for_selector("#step-equations .eq")
    seen = []
    for _ in range(int(page.inner_text("#step-count"))):
        seen.append(page.inner_text("#step-equations"))
        if page.is_enabled("#step-next"):
            page.click("#step-next")
    text = "\n".join(seen)
    for number in ("0.75136507", "0.772928465", "0.298371109", "0.35891648"):
        assert number in text, number
    page.select_option("#step-decimals", "8")
    assert "0.14978072" in page.inner_text("#step-equations")          # w1 after the update
    page.click("#step-prev")
    page.click("#step-prev")                                            # back to BP3/BP4 of layer 2
    assert "finite difference" in page.inner_text("#step-equations")
    page.check("#step-reverse")
    screenshot(page, "step", tmp_path)


def test_clicking_a_weight_shows_its_sum_over_paths(page, url):
    page.goto(url + "?view=step&ex=sigmoid-2321")
    page.wait_for_selector("#step-paths .eq")
    hit = page.evaluate("playground.step.hits.find(h => h.l === 2 && h.j === 1 && h.k === 2)")
    box = page.locator("#step-canvas").bounding_box()
    scale = box["width"] / page.eval_on_selector("#step-canvas", "c => c.width")
    t = 0.5
    page.mouse.click(box["x"] + (hit["x1"] + t * (hit["x2"] - hit["x1"])) * scale,
                     box["y"] + (hit["y1"] + t * (hit["y2"] - hit["y1"])) * scale)
    page.wait_for_function("document.getElementById('step-paths').textContent.includes('∂C/∂w²₁₂')")
    paths = page.inner_text("#step-paths")
    bp4 = re.search(r"BP4: ∂C/∂w²₁₂ = (-?[\d.]+)", paths).group(1)
    assert f"sum over the paths = {bp4}" in paths


def test_a_malformed_request_gets_400_and_the_server_keeps_serving(page, url):
    page.goto(url)
    first_frame(page)
    result = page.evaluate("""async () => {
        const r = await fetch('/api/session', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                               body: '{"config": {"network": {"hidden": [-3]}}}'});
        return [r.status, (await r.json()).error];
    }""")
    assert result[0] == 400 and "neurons" in result[1]
    page.fill("#opt-learning_rate", "-1")
    page.dispatch_event("#opt-learning_rate", "change")
    page.wait_for_function("document.getElementById('message').textContent.includes('learning_rate')")
    page.click("#one-batch")                     # the previous network is still there
    page.wait_for_function("document.getElementById('batches').textContent === '1'")
    page.reload()                                # the URL now holds the refused value
    first_frame(page)
    assert "learning_rate" in page.inner_text("#message") and "defaults" in page.inner_text("#message")
    assert page.input_value("#opt-learning_rate") == "0.1"
    page.problems = [p for p in page.problems if "status of 400" not in p]   # the refusals asked for


def test_a_csv_file_uploaded_in_the_page_trains(page, url, tmp_path):
    rows = ["x,y,kind"] + [f"{(i % 10) / 10},{((i * 7) % 10) / 10},{'a' if (i % 10) < 5 else 'b'}" for i in range(120)]
    (tmp_path / "mine.csv").write_text("\n".join(rows) + "\n")
    page.goto(url)
    first_frame(page)
    page.set_input_files("#upload", str(tmp_path / "mine.csv"))
    page.wait_for_function("document.getElementById('message').textContent.includes('2 features, 2 classes')")
    page.wait_for_function("location.search.includes('data=upload')")
    page.wait_for_function("playground.train.info.data.name.startsWith('mine.csv')")   # its session is up
    page.click("#one-epoch")
    page.wait_for_function("parseFloat(document.getElementById('epoch').textContent) === 1")
    assert page.locator("#plane-box").is_visible()      # two features: drawn in the plane


def test_closing_the_tab_stops_its_training(browser, url):
    from playground_helpers import Client, wait_for

    page = browser.new_page()
    page.goto(url + "?speed=0")
    first_frame(page)
    page.click("#play")
    page.wait_for_function("parseInt(document.getElementById('batches').textContent) > 0")
    session_id = page.evaluate("playground.train.id")
    page.close(run_before_unload=True)
    client = Client(url)

    def gone():
        status, _, _ = client.post(f"/api/session/{session_id}/control", {"action": "pause"})
        return status == 404

    wait_for(gone, timeout=30, what="the closed tab's session to stop")
