"""The playground's web server: the standard library's ``http.server`` and Server-Sent Events.

One thread per request (``ThreadingHTTPServer``). The page's live view is one
``text/event-stream`` response per tab that the server writes a frame to whenever the
training thread has published new parameters, at most ``MAX_FRAMES_PER_SECOND``
times a second. Controls, the Step view and Draw are small JSON POSTs.

Safety: the server serves its own static files by exact name only; every body is
size-limited and checked by the library's own validation (a bad one gets 400 and one
line); an unexpected error in one request is a 500 for that request only; JSON
endpoints require ``Content-Type: application/json`` and a Host header naming this
server, so another web site open in the same browser cannot drive it.
"""
import ipaddress
import itertools
import json
import mimetypes
import os
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from bprop.errors import BpropError
from bprop.playground import config as page_config

MAX_JSON_BYTES = 1024 * 1024
MAX_SESSIONS = 8
MAX_FRAMES_PER_SECOND = 12.5
KEEPALIVE_SECONDS = 10
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class BadRequest(Exception):
    """A request the server refuses with 400 and this one-line reason."""


class NotFound(Exception):
    """404 with this one-line reason."""


class Playground:
    """The server's state: the sessions (one per open page) and an optional loaded model."""

    def __init__(self, model=None, model_name=None, start=None):
        self.model = model
        self.model_name = model_name
        self.start = start            # the configuration a page starts with when its URL has none
        self.sessions = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.static = _static_files()
        self.model_lock = threading.Lock()   # Draw on the loaded model, one request at a time
        names = getattr(model, "class_names", None)
        self.model_classes = list(names) if names else ([str(j) for j in range(model.sizes[-1])] if model else [])

    def look(self, X):
        """Every layer's activations for the rows of X on the loaded model, and its predictions."""
        from bprop.playground import views

        with self.model_lock:
            return views.layer_activations(self.model, X), self.model.predict(X)

    def new_session(self, raw_config, use_model, replace=None):
        from bprop.playground.session import Session

        config = page_config.parse(raw_config)
        if use_model and self.model is None:
            raise BadRequest("no model was loaded: start with bprop playground --model M.npz")
        session = Session(config, self.model if use_model else None)
        if replace is not None:  # only now: a refused configuration keeps the page's network
            self.close_session(replace)
        with self.lock:
            session_id = f"s{next(self.ids)}"
            self.sessions[session_id] = session
            oldest = list(self.sessions)[:-MAX_SESSIONS]
        for old in oldest:
            self.close_session(old)
        return session_id, session

    def session(self, session_id):
        with self.lock:
            session = self.sessions.get(session_id)
        if session is None:
            raise NotFound(f"no session {session_id!r}; reload the page")
        return session

    def close_session(self, session_id):
        with self.lock:
            session = self.sessions.pop(session_id, None)
        if session is not None:
            session.close()

    def close(self):
        for session_id in list(self.sessions):
            self.close_session(session_id)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, playground):
        self.playground = playground
        super().__init__(address, Handler)
        host, port = self.server_address[:2]
        self.allowed_hosts = {f"{name}:{port}" for name in (*LOOPBACK_NAMES, host)}
        self.check_host = _is_loopback(host)

    @property
    def url(self):
        host, port = self.server_address[:2]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"


def make_server(host="127.0.0.1", port=0, model=None, model_name=None, start=None):
    """A server bound to (host, port); port 0 picks a free one. Call ``serve_forever``."""
    return Server((host, port), Playground(model, model_name, start))


class Handler(BaseHTTPRequestHandler):
    server_version = "bprop-playground"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet: the terminal shows the address and errors only
        pass

    # ---- dispatch -------------------------------------------------------------------
    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def _handle(self, method):
        self.body_read = False
        try:
            self._check_host()
            path = urllib.parse.urlsplit(self.path).path
            route = _ROUTES.get((method, _pattern(path)))
            if route is None:
                raise NotFound(f"nothing at {method} {path[:100]}")
            route(self, *_arguments(path))
        except BadRequest as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
        except BpropError as error:
            self._error(HTTPStatus.BAD_REQUEST, str(error))
        except NotFound as error:
            self._error(HTTPStatus.NOT_FOUND, str(error))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as error:  # a bug: this request fails, the server and the sessions live on
            traceback.print_exc(file=sys.stderr)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(error).__name__}: {error}")

    def _check_host(self):
        if self.server.check_host and self.headers.get("Host", "") not in self.server.allowed_hosts:
            raise BadRequest("unexpected Host header; open the address bprop playground printed")

    # ---- replies ----------------------------------------------------------------------
    def _send(self, status, body, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers:
            self.send_header(name, value)
        if not self.body_read and self.headers.get("Content-Length", "0") != "0":
            self.send_header("Connection", "close")   # the unread body must not be read as the next request
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value, status=HTTPStatus.OK):
        self._send(status, json.dumps(value, allow_nan=False).encode(), "application/json")

    def _error(self, status, message):
        message = " ".join(str(message).split())[:500]
        try:
            self._json({"error": message}, status)
        except (BrokenPipeError, ConnectionResetError, ValueError):
            pass

    # ---- requests ---------------------------------------------------------------------
    def _body(self, limit, content_type):
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise BadRequest("the request needs a Content-Length")
        if int(length) > limit:
            self.close_connection = True
            raise BadRequest(f"the request body is larger than {limit // 1024} KB")
        given = self.headers.get("Content-Type", "").split(";")[0].strip()
        if given != content_type:
            raise BadRequest(f"expected Content-Type {content_type}; got {given or 'none'}")
        body = self.rfile.read(int(length))
        self.body_read = True
        return body

    def _json_body(self):
        body = self._body(MAX_JSON_BYTES, "application/json")
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BadRequest(f"the request body is not valid JSON ({error})") from None
        if not isinstance(value, dict):
            raise BadRequest("the request body must be a JSON object")
        return value

    # ---- routes -------------------------------------------------------------------------
    def index(self):
        self._static("index.html")

    def static(self, name):
        self._static(name)

    def _static(self, name):
        files = self.server.playground.static
        if name not in files:
            raise NotFound(f"no file {name[:100]!r}")
        body, content_type = files[name]
        self._send(HTTPStatus.OK, body, content_type)

    def options(self):
        from bprop import activations, costs, optimizers
        from bprop.network import INITS
        from bprop.options import TRAINING
        from bprop.playground import stepper

        playground = self.server.playground
        model = playground.model
        self._json({
            "defaults": page_config.DEFAULT, "start": playground.start,
            "toy": list(page_config.TOY), "images": list(page_config.IMAGES),
            "activations": list(activations.ACTIVATIONS), "costs": list(costs.COSTS),
            "inits": ["auto", *INITS], "optimizers": list(optimizers.OPTIMIZERS),
            "limits": {"hidden_layers": page_config.MAX_HIDDEN_LAYERS, "neurons": page_config.MAX_NEURONS,
                       "batch_size": page_config.MAX_BATCH_SIZE},
            "model": None if model is None else {"name": playground.model_name, "sizes": model.sizes,
                                                 "activations": [s.name for s in model.activations],
                                                 "cost": model.cost.name},
            "examples": stepper.examples(),
            "help": {name: TRAINING[name].help for name in page_config.DEFAULT["training"] if name in TRAINING},
        })

    def new_session(self):
        body = self._json_body()
        replace = body.get("replace")
        session_id, session = self.server.playground.new_session(
            body.get("config"), bool(body.get("use_model")), replace if isinstance(replace, str) else None)
        self._json({"id": session_id, "config": session.config, **session.describe()})

    def control(self, session_id):
        action = self._json_body().get("action")
        self.server.playground.session(session_id).control(action)
        self._json({"ok": True})

    def close(self, session_id):
        self._json_body()
        self.server.playground.close_session(session_id)
        self._json({"ok": True})

    def events(self, session_id):
        session = self.server.playground.session(session_id)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        seen, sent_at, first = -1, 0.0, True
        with session.lock:
            session.streams += 1
        try:
            while not session.closed:
                version = session.wait(seen, KEEPALIVE_SECONDS)
                if version == seen:
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
                    continue
                pause = sent_at + 1.0 / MAX_FRAMES_PER_SECOND - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                sent_at = time.perf_counter()   # frames start 1/MAX_FRAMES_PER_SECOND apart
                seen = session.version
                frame = session.frame()
                if first:
                    frame["curve"], first = session.curve_so_far(), False
                self.wfile.write(b"data: " + json.dumps(frame, allow_nan=False).encode() + b"\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:  # the tab is gone (or the session replaced): its training stops
            with session.lock:
                session.streams -= 1
                last = session.streams == 0
            if last:
                self.server.playground.close_session(session_id)

    def draw(self, session_id):
        """Draw on the network of a session, or (session id ``model``) on the loaded model."""
        from bprop.playground import drawing

        playground = self.server.playground
        image = self._json_body().get("image")
        if session_id == "model":
            if playground.model is None:
                raise BadRequest("no model was loaded: start with bprop playground --model M.npz")
            network, look, classes = playground.model, playground.look, playground.model_classes
        else:
            session = playground.session(session_id)
            network, look, classes = session.network, session.look, session.dataset.class_names
        x = drawing.pixels(drawing.decode(image), network.sizes[0], network.image_format)
        activations, predicted = look(x[None, :])
        side = int(round(len(x) ** 0.5))
        shape = list(network.image_format.shape) if network.image_format is not None else [side, side]
        self._json({
            "input": [round(float(v), 4) for v in x], "shape": shape,
            "layers": [[round(float(v), 5) for v in a[0]] for a in activations[1:]],
            "activations": [s.name for s in network.activations],
            "classes": classes, "prediction": int(predicted[0]),
        })

    def model(self, session_id):
        session = self.server.playground.session(session_id)
        with tempfile.TemporaryDirectory(prefix="bprop-playground-") as folder:
            path = os.path.join(folder, "model.npz")
            session.save(path)
            with open(path, "rb") as file:
                body = file.read()
        self._send(HTTPStatus.OK, body, "application/octet-stream",
                   [("Content-Disposition", 'attachment; filename="bprop-playground.npz"')])

    def step(self):
        from bprop.playground import stepper

        self._json(stepper.run(self._json_body()).to_dict())

    def step_render(self):
        from bprop.playground import stepper

        body = self._json_body()
        text = stepper.render(body.get("spec"), body.get("format"))
        suffix = {"markdown": "md", "latex": "tex", "text": "txt", "json": "json"}[body["format"]]
        self._send(HTTPStatus.OK, text.encode("utf-8"), "text/plain; charset=utf-8",
                   [("Content-Disposition", f'attachment; filename="bprop-step.{suffix}"')])

    def upload(self):
        from bprop.playground import datasets

        body = self._body(datasets.MAX_UPLOAD_BYTES, "text/csv")
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        filename = os.path.basename(query.get("filename", ["upload.csv"])[0])[:100]
        name, dataset = datasets.upload(body, filename)
        self._json({"name": name, "title": dataset.name, "features": dataset.n_features,
                    "classes": dataset.class_names, "train": len(dataset.train[1])})


_ROUTES = {
    ("GET", "/"): Handler.index,
    ("GET", "/static/*"): Handler.static,
    ("GET", "/api/options"): Handler.options,
    ("POST", "/api/session"): Handler.new_session,
    ("POST", "/api/session/*/control"): Handler.control,
    ("POST", "/api/session/*/close"): Handler.close,
    ("GET", "/api/session/*/events"): Handler.events,
    ("POST", "/api/session/*/draw"): Handler.draw,
    ("GET", "/api/session/*/model.npz"): Handler.model,
    ("POST", "/api/step"): Handler.step,
    ("POST", "/api/step/render"): Handler.step_render,
    ("POST", "/api/upload"): Handler.upload,
}


def _pattern(path):
    """The route a path matches: its one variable segment (a session id or file name) as ``*``."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "static":
        return "/static/*"
    if len(parts) >= 4 and parts[1:3] == ["api", "session"]:
        parts[3] = "*"
    return "/".join(parts)


def _arguments(path):
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "static":
        return (urllib.parse.unquote("/".join(parts[2:])),)
    if len(parts) >= 4 and parts[1:3] == ["api", "session"]:
        return (urllib.parse.unquote(parts[3]),)
    return ()


def _static_files():
    """Every file of the static folder, read once: name -> (bytes, content type)."""
    folder = resources.files("bprop.playground") / "static"
    files = {}
    for entry in folder.iterdir():
        if entry.is_file():
            content_type = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type.endswith("javascript"):
                content_type += "; charset=utf-8"
            files[entry.name] = (entry.read_bytes(), content_type)
    return files


def _is_loopback(host):
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
