// Train: choose data, network and options; watch bprop's trainer learn, live.
// Every number drawn here arrives from the server, computed by bprop's own code.
import {api, clearError, element, format, picture, say, css} from "./common.js";
import {drawNetwork} from "./netdraw.js";
import {lineChart} from "./plot.js";

// URL key -> [section, option, kind]
const KEYS = {
  data: ["data", "name", "text"], n: ["data", "n", "int"], noise: ["data", "noise", "float"],
  val: ["data", "validation", "float"], dseed: ["data", "seed", "int"],
  hidden: ["network", "hidden", "ints"], act: ["network", "activations", "texts"],
  out: ["network", "output", "text"], cost: ["network", "cost", "text"], init: ["network", "init", "text"],
  opt: ["training", "optimizer", "text"], lr: ["training", "learning_rate", "float"],
  mom: ["training", "momentum", "float"], bs: ["training", "batch_size", "int"], l2: ["training", "l2", "float"],
  drop: ["training", "dropout", "float"], seed: ["training", "seed", "int"], speed: ["training", "speed", "float"],
};

function parseValue(text, kind) {
  if (kind === "int") return parseInt(text, 10);
  if (kind === "float") return parseFloat(text);
  if (kind === "ints") return text === "" ? [] : text.split(",").map(v => parseInt(v, 10));
  if (kind === "texts") return text === "" ? [] : text.split(",");
  return text;
}

export class TrainView {
  constructor(app) {
    this.app = app;
    const options = app.options;
    this.config = structuredClone(options.defaults);
    this.useModel = false;
    const params = app.params;
    const fromUrl = Object.keys(KEYS).some(key => params.has(key)) || params.has("model");
    if (!fromUrl && options.start) {
      Object.assign(this.config.data, options.start.data || {});
      this.useModel = Boolean(options.start.use_model);
    }
    for (const [key, [section, option, kind]] of Object.entries(KEYS)) {
      if (params.has(key)) this.config[section][option] = parseValue(params.get(key), kind);
    }
    if (params.get("model") === "1" && options.model) this.useModel = true;
    this.id = null;
    this.events = null;
    this.curve = [];
    this.frameTimes = [];
    this.running = false;
    this.buildForm();
    this.bindControls();
    this.restart();
  }

  // ---- the settings form -----------------------------------------------------------
  buildForm() {
    const options = this.app.options;
    const fill = (id, values, labels = {}) => {
      const select = document.getElementById(id);
      select.replaceChildren(...values.map(v => element("option", {value: v, text: labels[v] || v})));
      return select;
    };
    fill("data-name", [...options.toy, ...options.images], {
      circles: "circles (2-D)", xor: "XOR (2-D)", gaussians: "two Gaussians (2-D)", spiral: "spiral (2-D)",
      digits: "digits 8×8 (1,797)", mnist: "MNIST 28×28", "fashion-mnist": "Fashion-MNIST 28×28"});
    if (this.config.data.name.startsWith("upload:")) {   // an upload from an earlier page: gone with it
      this.config.data.name = options.defaults.data.name;
    }
    fill("net-output", options.activations);
    fill("net-cost", options.costs);
    fill("net-init", options.inits);
    fill("opt-optimizer", options.optimizers);
    const bind = (id, section, option, kind) => {
      const input = document.getElementById(id);
      input.addEventListener("change", () => {
        const value = parseValue(input.value, kind);
        if (kind !== "text" && !Number.isFinite(value)) { say(`${option}: enter a number`, true); return; }
        this.config[section][option] = value;
        this.changed();
      });
      input.addEventListener("input", () => {
        const out = document.getElementById(`${id}-out`);
        if (out) out.textContent = input.value;
      });
    };
    bind("data-name", "data", "name", "text");
    bind("data-n", "data", "n", "int");
    bind("data-noise", "data", "noise", "float");
    bind("data-validation", "data", "validation", "float");
    bind("data-seed", "data", "seed", "int");
    bind("net-output", "network", "output", "text");
    bind("net-cost", "network", "cost", "text");
    bind("net-init", "network", "init", "text");
    for (const [option, help] of Object.entries(options.help || {})) {    // bprop's table of training options
      const input = document.getElementById(`opt-${option}`);
      if (input) input.closest("label").title = help;
    }
    for (const option of ["optimizer", "learning_rate", "momentum", "batch_size", "l2", "dropout", "seed", "speed"]) {
      bind(`opt-${option}`, "training", option, option === "optimizer" ? "text" :
           ["batch_size", "seed"].includes(option) ? "int" : "float");
    }
    document.getElementById("add-layer").addEventListener("click", () => {
      const network = this.config.network;
      if (network.hidden.length >= options.limits.hidden_layers) return;
      network.hidden.push(network.hidden.length ? network.hidden[network.hidden.length - 1] : 4);
      network.activations.push(network.activations.length ? network.activations[network.activations.length - 1] : "tanh");
      this.changed();
    });
    document.getElementById("upload").addEventListener("change", event => this.upload(event.target.files[0]));
    if (options.model) {
      const box = element("input", {type: "checkbox", id: "use-model"});
      box.checked = this.useModel;
      box.addEventListener("change", () => { this.useModel = box.checked; this.changed(); });
      document.getElementById("model-note").replaceChildren(
        element("label", {class: "inline"}, box, `start from ${options.model.name}`));
    }
    this.showForm();
  }

  showForm() {
    const {data, network, training} = this.config;
    const set = (id, value) => {
      const input = document.getElementById(id);
      input.value = value;
      const out = document.getElementById(`${id}-out`);
      if (out) out.textContent = value;
    };
    set("data-name", data.name); set("data-n", data.n); set("data-noise", data.noise);
    set("data-validation", data.validation); set("data-seed", data.seed);
    set("net-output", network.output); set("net-cost", network.cost); set("net-init", network.init);
    for (const [option, value] of Object.entries(training)) set(`opt-${option}`, value);
    document.getElementById("toy-options").hidden = !this.app.options.toy.includes(data.name);
    const rows = network.hidden.map((n, i) => {
      const select = element("select", {"aria-label": `layer ${i + 1} activation`},
        ...this.app.options.activations.filter(a => a !== "softmax").map(a => element("option", {value: a, text: a})));
      select.value = network.activations[i];
      select.addEventListener("change", () => { network.activations[i] = select.value; this.changed(); });
      const resize = delta => () => {
        network.hidden[i] = Math.max(1, Math.min(this.app.options.limits.neurons, n + delta));
        this.changed();
      };
      return element("div", {class: "layer-row"},
        element("span", {text: `layer ${i + 1}`}),
        element("button", {text: "−", title: "one neuron fewer", onclick: resize(-1)}),
        element("span", {class: "count", text: String(n)}),
        element("button", {text: "+", title: "one neuron more", onclick: resize(+1)}),
        select,
        element("button", {text: "×", title: "remove this layer", onclick: () => {
          network.hidden.splice(i, 1); network.activations.splice(i, 1); this.changed();
        }}));
    });
    document.getElementById("layers").replaceChildren(...rows);
    for (const id of ["layers", "add-layer", "net-output", "net-cost", "net-init"]) {
      document.getElementById(id).classList.toggle("disabled", this.useModel);
    }
  }

  changed() {
    this.showForm();
    this.rememberConfig();
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => this.restart(), 250);
  }

  rememberConfig() {
    const values = {};
    for (const [key, [section, option, kind]] of Object.entries(KEYS)) {
      const value = this.config[section][option];
      values[key] = Array.isArray(value) ? value.join(",") : value;
    }
    values.model = this.useModel ? 1 : null;
    this.app.remember(values);
  }

  async upload(file) {
    if (!file) return;
    try {
      const response = await fetch(`/api/upload?filename=${encodeURIComponent(file.name)}`, {
        method: "POST", headers: {"Content-Type": "text/csv"}, body: await file.arrayBuffer()});
      const value = await response.json();
      if (!response.ok) throw new Error(value.error);
      const select = document.getElementById("data-name");
      select.append(element("option", {value: value.name, text: value.title}));
      this.config.data.name = value.name;
      say(`${value.title}: ${value.train} training rows, ${value.features} features, ${value.classes.length} classes`);
      this.changed();
    } catch (error) {
      say(error.message, true);
    }
  }

  // ---- the session ------------------------------------------------------------------
  bindControls() {
    document.getElementById("play").addEventListener("click", () => this.control(this.running ? "pause" : "play"));
    document.getElementById("one-batch").addEventListener("click", () => this.control("batch"));
    document.getElementById("one-epoch").addEventListener("click", () => this.control("epoch"));
    document.getElementById("reset").addEventListener("click", () => this.control("reset"));
    document.getElementById("show-gradients").addEventListener("change", () => this.drawFrame(this.lastFrame));
    window.addEventListener("pagehide", () => {
      if (this.id) navigator.sendBeacon(`/api/session/${this.id}/close`, new Blob(["{}"], {type: "application/json"}));
    });
  }

  async restart(fallback = false) {
    if (this.events) { this.events.close(); this.events = null; }
    try {
      const info = await api("/api/session", {config: this.config, use_model: this.useModel, replace: this.id});
      clearError();
      this.id = info.id;
      this.info = info;
      this.config = info.config;
      this.showForm();
      this.rememberConfig();
      this.curve = [];
      this.lastFrame = null;
      this.gradients = null;
      document.getElementById("download-model").href = `/api/session/${this.id}/model.npz`;
      this.setupPanels();
      this.connect();
    } catch (error) {
      if (this.id) {
        say(error.message, true);
        this.connect();                  // the previous network is still there
      } else if (!fallback) {            // a link with a bad value: start from the defaults instead
        this.config = structuredClone(this.app.options.defaults);
        this.useModel = false;
        await this.restart(true);
        say(`${error.message} (the link's settings were refused: started from the defaults)`, true);
      } else {
        say(error.message, true);
      }
    }
  }

  connect() {
    if (this.events) this.events.close();
    const events = this.events = new EventSource(`/api/session/${this.id}/events`);
    events.onmessage = message => this.onFrame(JSON.parse(message.data));
    events.onerror = () => {
      if (events.readyState === EventSource.CLOSED && this.events === events) say("lost the server: reload the page", true);
    };
  }

  async control(action) {
    try {
      if (action === "reset") this.curve = [];
      await api(`/api/session/${this.id}/control`, {action});
    } catch (error) {
      say(error.message, true);
    }
  }

  setupPanels() {
    const info = this.info;
    const plane = info.data.n_features === 2;
    document.getElementById("plane-box").hidden = !plane;
    document.getElementById("images-box").hidden = !info.data.image_shape;
    document.getElementById("confusion-box").hidden = info.data.classes.length > 20;
    document.getElementById("net-hint").textContent = plane
      ? "Edge colour: blue positive, orange negative; width: size. Each square is what that neuron computes over the plane (blue high, orange low)."
      : "Edge colour: blue positive, orange negative; width: size. Layers with more than 10 neurons show the first 10.";
    this.drawCurves();
  }

  // ---- drawing a frame ----------------------------------------------------------------
  onFrame(frame) {
    const now = performance.now();
    this.frameTimes.push(now);
    while (this.frameTimes.length && this.frameTimes[0] < now - 1000) this.frameTimes.shift();
    if (frame.curve) this.curve = frame.curve.slice();
    if (frame.point && (!this.curve.length || this.curve[this.curve.length - 1].epoch !== frame.point.epoch)) {
      this.curve.push(frame.point);
    }
    this.lastFrame = frame;
    this.running = frame.state.running;
    document.getElementById("play").textContent = this.running ? "❚❚ Pause" : "▶ Play";
    document.getElementById("epoch").textContent = frame.epoch.toFixed(2);
    document.getElementById("batches").textContent = String(frame.batches);
    if (frame.point) {
      document.getElementById("cost").textContent = format(frame.point.cost, 4);
      document.getElementById("val-accuracy").textContent = frame.point.validation_accuracy == null
        ? "–" : `${(100 * frame.point.validation_accuracy).toFixed(1)}%`;
    }
    document.getElementById("rate").textContent = this.running ? `${this.frameTimes.length} updates/s` : "";
    if (frame.state.error) say(frame.state.error, true);
    this.drawFrame(frame);
    this.drawCurves();
  }

  drawFrame(frame) {
    if (!frame) return;
    const sizes = this.info.network.sizes;
    const showGradients = document.getElementById("show-gradients").checked;
    if (frame.gradients) this.gradients = frame.gradients;     // paced by the server, like the curves
    const edges = (showGradients ? this.gradients : frame.parameters.weights) || [];
    let maps = [];
    if (frame.heatmaps) {
      const grid = frame.heatmaps.grid;
      maps = frame.heatmaps.layers.map(layer => layer.map(b64 => picture(b64, grid, grid)));
      this.drawPlane(maps[maps.length - 1], frame.heatmaps.extent);
    }
    const canvas = document.getElementById("net-canvas");
    const names = sizes.map((n, l) => l === 0 ? `input (${n})` : l === sizes.length - 1
      ? `output (${this.info.network.activations[l - 1]})` : `${n} ${this.info.network.activations[l - 1]}`);
    drawNetwork(canvas, {sizes, edges, maps, nodeSize: frame.heatmaps ? 44 : 22, layerNames: names});
    if (frame.images) this.drawImages(frame.images);
    if (frame.confusion) this.drawConfusion(frame.confusion);
  }

  drawPlane(outputMaps, extent) {
    const canvas = document.getElementById("output-map");
    const context = canvas.getContext("2d");
    const map = outputMaps.length === 2 ? outputMaps[1] : outputMaps[0];
    context.imageSmoothingEnabled = true;
    context.drawImage(map, 0, 0, canvas.width, canvas.height);
    const [lo, hi] = extent;
    const X = x => (x - lo) / (hi - lo) * canvas.width, Y = y => (hi - y) / (hi - lo) * canvas.height;
    for (const [split, radius] of [["validation", 2.5], ["train", 3.5]]) {
      const points = this.info.points && this.info.points[split];
      if (!points) continue;
      points.x.forEach(([x, y], i) => {
        context.beginPath();
        context.arc(X(x), Y(y), radius, 0, 2 * Math.PI);
        context.fillStyle = points.y[i] === 1 ? css(1) : css(-1);
        context.fill();
        context.strokeStyle = split === "train" ? "#fff" : "#333";
        context.lineWidth = 1;
        context.stroke();
      });
    }
  }

  drawCurves() {
    const points = key => this.curve.map(p => [p.epoch, p[key]]);
    lineChart(document.getElementById("curve-cost"), [
      {points: points("cost"), colour: "#183153"},
      {points: points("validation_cost"), colour: "#f59322", dashed: true}]);
    lineChart(document.getElementById("curve-accuracy"), [
      {points: points("accuracy"), colour: "#183153"},
      {points: points("validation_accuracy"), colour: "#f59322", dashed: true}], {yMin: 0, yMax: 1});
  }

  drawImages(images) {
    const [height, width] = images.shape;
    document.getElementById("images").replaceChildren(...images.images.map(b64 => picture(b64, width, height)));
  }

  drawConfusion(matrix) {
    const classes = this.info.data.classes;
    const peak = Math.max(1, ...matrix.flat());
    const head = element("tr", {}, element("th", {text: ""}), ...classes.map(c => element("th", {text: c})));
    const rows = matrix.map((row, i) => element("tr", {}, element("th", {text: classes[i]}),
      ...row.map((count, j) => {
        const cell = element("td", {text: String(count)});
        cell.style.background = i === j ? css(count / peak, 0.8) : count ? css(-count / peak, 0.8) : "";
        return cell;
      })));
    document.getElementById("confusion").replaceChildren(head, ...rows);
  }
}
