"""The playground's server as the page uses it: JSON requests, the event stream, refusals."""
import base64
import io
import json

import numpy as np
import pytest

import bprop
from playground_helpers import Client, serve_in_thread, wait_for

MAZUR = {"sizes": [2, 2, 2], "activations": ["sigmoid", "sigmoid"], "cost": "quadratic",
         "weights": [[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]],
         "biases": [[0.35, 0.35], [0.60, 0.60]], "input": [0.05, 0.10], "target": [0.01, 0.99], "eta": 0.5}


@pytest.fixture(scope="module")
def server():
    server, url = serve_in_thread()
    yield server
    server.shutdown()
    server.playground.close()
    server.server_close()


@pytest.fixture
def client(server):
    return Client(server.url)


def new_session(client, **config):
    return client.json("POST", "/api/session", {"config": config})


def test_the_page_and_its_scripts_are_served(client):
    status, content_type, body = client.get("/")
    assert status == 200 and content_type.startswith("text/html") and b"bprop playground" in body
    for name in ("app.js", "train.js", "step.js", "draw.js", "style.css"):
        status, _, _ = client.get(f"/static/{name}")
        assert status == 200, name


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py",
                                  "/static//etc/passwd", "/../bprop/playground/server.py", "/static/"])
def test_paths_outside_the_static_files_are_refused(client, path):
    status, _, body = client.get(path)
    assert status == 404
    assert b"import" not in body and b"root:" not in body


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "not valid JSON"),
    (json.dumps({"config": {"network": {"hidden": [100000]}}}).encode(), "1 to 256 neurons"),
    (json.dumps({"config": {"training": {"learning_rate": -1}}}).encode(), "learning_rate"),
    (json.dumps({"config": {"training": {"speling": 1}}}).encode(), "unknown training option"),
    (json.dumps({"config": {"network": {"activations": ["tanh", "sigmoidd"]}}}).encode(), "sigmoidd"),
    (json.dumps({"config": {"data": {"name": "../../etc/passwd"}}}).encode(), "unknown data set"),
    (json.dumps({"config": {"data": {"n": 10**9}}}).encode(), "4 to 20000 points"),
    (json.dumps([1, 2]).encode(), "JSON object"),
])
def test_a_bad_request_gets_400_with_one_line_and_the_server_keeps_serving(client, body, reason):
    status, content_type, data = client.post("/api/session", body)
    assert status == 400 and content_type == "application/json"
    message = json.loads(data)["error"]
    assert reason in message and "\n" not in message and "Traceback" not in message
    assert client.get("/")[0] == 200


def test_json_requests_need_a_json_content_type_and_this_servers_host(client):
    status, _, data = client.post("/api/step", json.dumps(MAZUR).encode(), content_type="text/plain")
    assert status == 400 and b"Content-Type application/json" in data
    status, _, data = client.request("POST", "/api/step", MAZUR, headers={"Host": "evil.example:80"})
    assert status == 400 and b"Host" in data


def test_a_body_over_the_limit_is_refused_before_it_is_read(client):
    import http.client

    connection = http.client.HTTPConnection(client.host, client.port, timeout=10)
    connection.putrequest("POST", "/api/step")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(10**12))     # the body is never sent
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 400 and b"larger than" in response.read()
    connection.close()
    assert client.get("/")[0] == 200


def test_the_step_is_mazurs_worked_example(client):
    trace = client.json("POST", "/api/step", MAZUR)
    hidden, output = trace["layers"]
    assert output["a"][0] == pytest.approx([0.75136507, 0.772928465], abs=1e-9)
    assert trace["cost_value"] == pytest.approx(0.298371109, abs=1e-9)
    assert output["w_new"][0][0] == pytest.approx(0.35891648, abs=1e-8)     # w5
    assert hidden["w_new"][0][0] == pytest.approx(0.149780716, abs=1e-9)    # w1
    assert trace == bprop.trace(*_problem(MAZUR)).to_dict()                   # the trace's own numbers


def _problem(spec):
    net = bprop.Network(spec["sizes"], spec["activations"], spec["cost"])
    net.set_parameters([np.array(w) for w in spec["weights"]], [np.array(b) for b in spec["biases"]])
    return net, np.array(spec["input"]), np.array(spec["target"]), spec["eta"]


def test_the_step_lists_the_paths_of_the_weight_asked_for(client):
    trace = client.json("POST", "/api/step", {**MAZUR, "weight": [2, 1, 0]})
    assert trace["paths"]["weight"] == [2, 1, 0]
    assert trace["paths"]["sums"][0] == pytest.approx(trace["layers"][1]["nabla_w"][1][0])


def test_a_step_too_big_for_the_page_is_refused(client):
    status, _, data = client.post("/api/step", {**MAZUR, "sizes": [2, 50, 2]})
    assert status == 400 and b"1 to 8 neurons" in data


def test_the_step_downloads_as_markdown_and_latex(client):
    status, content_type, text = client.post("/api/step/render", {"spec": MAZUR, "format": "markdown"})
    assert status == 200 and b"## BP1" in text
    status, _, text = client.post("/api/step/render", {"spec": MAZUR, "format": "latex"})
    assert status == 200 and b"\\delta" in text


def test_one_mini_batch_trains_exactly_one_and_pauses(client, server):
    info = new_session(client)
    session = server.playground.session(info["id"])
    client.json("POST", f"/api/session/{info['id']}/control", {"action": "batch"})
    wait_for(lambda: session.batches == 1 and session.mode == "pause", what="one mini-batch")
    client.json("POST", f"/api/session/{info['id']}/control", {"action": "epoch"})
    n_batches = -(-info["data"]["train"] // info["config"]["training"]["batch_size"])
    wait_for(lambda: session.batches == n_batches and session.mode == "pause", what="the end of the epoch")
    assert session.last_record["epoch"] == 1 and len(session.trainer.history) == 1


def test_reset_replays_the_same_run_exactly(client, server):
    info = new_session(client, training={"speed": 0})
    session = server.playground.session(info["id"])
    path = f"/api/session/{info['id']}/control"

    def run_three_batches():
        for _ in range(3):
            done = session.batches
            client.json("POST", path, {"action": "batch"})
            wait_for(lambda: session.batches == done + 1 and session.mode == "pause", what="a mini-batch")
        return session.network.copy_parameters()

    first = run_three_batches()
    client.json("POST", path, {"action": "reset"})
    assert session.batches == 0
    second = run_three_batches()
    for a, b in zip(first[0] + first[1], second[0] + second[1]):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first[0], _fresh(info).weights))


def _fresh(info):
    config = info["config"]
    sizes = info["network"]["sizes"]
    return bprop.Network(sizes, info["network"]["activations"], info["network"]["cost"],
                         init=info["network"]["init"], seed=config["training"]["seed"])


def test_the_event_stream_shows_the_cost_falling_and_the_heat_maps_changing(client, server):
    info = new_session(client, data={"name": "gaussians"}, training={"speed": 0})
    client.json("POST", f"/api/session/{info['id']}/control", {"action": "play"})
    frames = client.frames(info["id"], 8)
    assert len(frames) == 8
    first, last = frames[0], frames[-1]
    points = [frame["point"] for frame in frames if "point" in frame]     # paced, but the first has one
    assert "point" in first and points[-1]["cost"] < points[0]["cost"]
    assert last["heatmaps"]["layers"][-1] != first["heatmaps"]["layers"][-1]
    sizes = info["network"]["sizes"]
    assert [len(layer) for layer in last["heatmaps"]["layers"]] == sizes
    grid = last["heatmaps"]["grid"]
    assert len(base64.b64decode(last["heatmaps"]["layers"][1][0])) == grid * grid


def test_closing_the_event_stream_stops_the_training(client, server):
    info = new_session(client, training={"speed": 0})
    session = server.playground.session(info["id"])
    client.json("POST", f"/api/session/{info['id']}/control", {"action": "play"})
    client.frames(info["id"], 2)          # then the "tab" closes its stream
    wait_for(lambda: session.closed and session.thread is None, what="the training to stop")
    batches = session.batches
    status, _, _ = client.post(f"/api/session/{info['id']}/control", {"action": "play"})
    assert status == 404 and session.batches == batches


def test_the_trained_model_downloads_loadable_by_bprop_load(client, server, tmp_path):
    info = new_session(client)
    session = server.playground.session(info["id"])
    client.json("POST", f"/api/session/{info['id']}/control", {"action": "epoch"})
    wait_for(lambda: session.last_record is not None and session.mode == "pause", what="an epoch")
    status, _, body = client.get(f"/api/session/{info['id']}/model.npz")
    assert status == 200
    (tmp_path / "model.npz").write_bytes(body)
    model = bprop.load(tmp_path / "model.npz")
    assert model.sizes == info["network"]["sizes"]
    for w, trained in zip(model.weights, session.network.weights):
        np.testing.assert_array_equal(w, trained)


def test_a_drawing_is_prepared_like_predict_and_shown_layer_by_layer(client, server, tmp_path):
    pytest.importorskip("PIL", reason="drawing needs Pillow")
    pytest.importorskip("sklearn", reason="the digits data set needs scikit-learn")
    from PIL import Image, ImageDraw

    info = new_session(client, data={"name": "digits"}, network={"hidden": [16], "activations": ["relu"],
                                                                  "output": "softmax"})
    image = Image.new("L", (280, 280), 0)
    ImageDraw.Draw(image).line([(140, 40), (140, 240)], fill=255, width=24)   # a "1"
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    result = client.json("POST", f"/api/session/{info['id']}/draw", {"image": url})
    image.save(tmp_path / "one.png")
    from bprop.images import format_for
    from bprop.inputs import read_image

    # as `bprop predict` reads it for a model `bprop train` made on digits: the ink fills
    # the 8 x 8 frame as the digits' own images do, not MNIST's 20/28 box
    digits_format = format_for("digits", (8, 8))
    expected = read_image(str(tmp_path / "one.png"), 64, digits_format)
    np.testing.assert_allclose(result["input"], np.round(expected, 4), atol=1e-4)
    mnist_way = read_image(str(tmp_path / "one.png"), 64)
    assert np.abs(expected - mnist_way).max() > 0.1    # the two ways differ on this drawing
    assert server.playground.session(info["id"]).network.image_format == digits_format
    assert [len(a) for a in result["layers"]] == [16, 10]
    assert sum(result["layers"][-1]) == pytest.approx(1, abs=1e-3)
    assert result["classes"] == [str(d) for d in range(10)]
    assert result["prediction"] == int(np.argmax(result["layers"][-1]))


def test_a_drawing_on_a_network_without_image_input_is_refused(client):
    info = new_session(client)
    status, _, data = client.post(f"/api/session/{info['id']}/draw", {"image": "data:image/png;base64,AAAA"})
    assert status == 400 and b"not a square image" in data


def test_an_uploaded_csv_trains(client, server):
    rows = ["a,b,label"] + [f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}" for i in range(60)]
    status, _, data = client.post("/api/upload?filename=mine.csv", "\n".join(rows).encode(), content_type="text/csv")
    assert status == 200, data
    upload = json.loads(data)
    assert upload["features"] == 2 and upload["classes"] == ["no", "yes"]
    info = new_session(client, data={"name": upload["name"]})
    assert info["network"]["sizes"][0] == 2


def test_a_broken_csv_upload_gets_400(client):
    status, _, data = client.post("/api/upload", b"a,b,c\n1,2\n3,4,5\n", content_type="text/csv")
    assert status == 400, data
    assert "\n" not in json.loads(data)["error"] and "Traceback" not in json.loads(data)["error"]


def test_an_unexpected_error_fails_only_its_request(client, server, monkeypatch):
    info = new_session(client)
    from bprop.playground import session as session_module

    def broken(self, path):
        raise RuntimeError("a bug")

    monkeypatch.setattr(session_module.Session, "save", broken)
    status, _, data = client.get(f"/api/session/{info['id']}/model.npz")
    assert status == 500 and b"RuntimeError" in data
    assert client.json("POST", f"/api/session/{info['id']}/control", {"action": "batch"}) == {"ok": True}


def test_a_refused_body_is_not_read_as_the_next_request_on_the_same_connection(client):
    import http.client

    connection = http.client.HTTPConnection(client.host, client.port, timeout=10)
    connection.request("POST", "/api/session/nobody/close", body=b'{"x": 1}GET / HTTP/1.1\r\n\r\n',
                       headers={"Content-Type": "text/plain"})
    response = connection.getresponse()
    assert response.status in (400, 404) and response.getheader("Connection") == "close"
    response.read()
    connection.close()
    assert client.get("/")[0] == 200


def test_drawing_works_on_a_loaded_model(tmp_path):
    pytest.importorskip("PIL", reason="drawing needs Pillow")
    from PIL import Image

    from bprop.images import ImageFormat, read_picture

    net = bprop.Network([16, 5, 3], ["tanh", "softmax"], "cross_entropy", seed=2)
    net.image_format = ImageFormat((4, 4), 4, "box")      # as a loaded model's header says
    server, url = serve_in_thread(model=net, model_name="m.npz")
    try:
        client = Client(url)
        buffer = io.BytesIO()
        Image.fromarray((np.eye(40) * 255).astype(np.uint8)).save(buffer, "PNG")
        url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
        result = client.json("POST", "/api/session/model/draw", {"image": url})
    finally:
        server.shutdown()
        server.server_close()
    x = np.array(result["input"])
    buffer.seek(0)
    np.testing.assert_allclose(x, np.round(read_picture(buffer, net.image_format), 4), atol=1e-4)
    np.testing.assert_allclose(result["layers"][-1], net.predict_proba(x[None])[0], atol=1e-4)
    assert result["classes"] == ["0", "1", "2"] and len(x) == 16


def test_thousands_of_epochs_keep_memory_bounded(client, server):
    from bprop.playground.session import KEPT_RECORDS

    info = new_session(client, data={"name": "xor", "n": 8, "validation": 0.25}, training={"speed": 0})
    session = server.playground.session(info["id"])
    client.json("POST", f"/api/session/{info['id']}/control", {"action": "play"})
    wait_for(lambda: session.last_record is not None and session.last_record["epoch"] > 2 * KEPT_RECORDS + 10,
             timeout=120, what="many epochs")
    client.json("POST", f"/api/session/{info['id']}/control", {"action": "pause"})
    assert len(session.trainer.history) <= 2 * KEPT_RECORDS
    assert session.trainer.history[-1]["epoch"] == session.trainer.epoch


def test_a_session_on_a_loaded_model_keeps_its_image_format_slope_and_class_names(tmp_path):
    """Draw in such a session prepares pictures as the model's file says, and the model
    downloaded from it carries the same format, slope and names."""
    pytest.importorskip("PIL", reason="drawing needs Pillow")
    pytest.importorskip("sklearn", reason="the digits data set needs scikit-learn")
    from PIL import Image

    from bprop.images import ImageFormat, read_picture

    net = bprop.Network([64, 8, 10], [bprop.activations.LeakyReLU(0.3), "softmax"], "cross_entropy", seed=2)
    net.image_format = ImageFormat((8, 8), 8, "box")
    net.class_names = [f"digit {d}" for d in range(10)]
    server, url = serve_in_thread(model=net, model_name="m.npz")
    try:
        client = Client(url)
        body = {"config": {"data": {"name": "digits"}}, "use_model": True}
        info = client.json("POST", "/api/session", body)
        buffer = io.BytesIO()
        Image.fromarray((np.eye(40) * 255).astype(np.uint8)).save(buffer, "PNG")
        drawing = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
        result = client.json("POST", f"/api/session/{info['id']}/draw", {"image": drawing})
        status, _, model_file = client.get(f"/api/session/{info['id']}/model.npz")
    finally:
        server.shutdown()
        server.server_close()
    buffer.seek(0)
    np.testing.assert_allclose(result["input"], np.round(read_picture(buffer, net.image_format), 4), atol=1e-4)
    assert result["shape"] == [8, 8]
    assert status == 200
    (tmp_path / "m.npz").write_bytes(model_file)
    downloaded = bprop.load(tmp_path / "m.npz")
    assert downloaded.image_format == net.image_format
    assert downloaded.class_names == net.class_names
    assert downloaded.activations[0].alpha == pytest.approx(0.3)
