// Draw: a digit drawn with mouse or finger, what the network sees, its probabilities and layers.
import {api, clearError, css, element, format, say} from "./common.js";

export class DrawView {
  constructor(app) {
    this.app = app;
    this.pad = document.getElementById("pad");
    this.context = this.pad.getContext("2d");
    this.drawing = false;
    this.dirty = false;
    this.clear();
    const source = document.getElementById("draw-source");
    if (!app.options.model) source.querySelector("option[value=model]").disabled = true;
    if (app.params.get("draw") === "model" && app.options.model) source.value = "model";
    source.addEventListener("change", () => { app.remember({draw: source.value}); this.predict(); });
    document.getElementById("draw-clear").addEventListener("click", () => this.clear());
    this.pad.addEventListener("pointerdown", event => this.start(event));
    this.pad.addEventListener("pointermove", event => this.move(event));
    for (const name of ["pointerup", "pointerleave", "pointercancel"]) {
      this.pad.addEventListener(name, () => this.end());
    }
  }

  shown() {
    const note = document.getElementById("draw-note");
    const train = this.app.train;
    const features = train.info ? train.info.data.n_features : 0;
    const square = Number.isInteger(Math.sqrt(features)) && features >= 4;
    note.textContent = document.getElementById("draw-source").value === "model" || square ? ""
      : "The network in Train takes 2 inputs, not an image: choose digits or MNIST there (or start with --model).";
  }

  clear() {
    this.context.fillStyle = "#000";
    this.context.fillRect(0, 0, this.pad.width, this.pad.height);
    this.dirty = false;
    document.getElementById("prediction").textContent = "–";
    document.getElementById("bars").replaceChildren();
    document.getElementById("draw-layers").replaceChildren();
    document.getElementById("seen").getContext("2d").clearRect(0, 0, 140, 140);
  }

  point(event) {
    const box = this.pad.getBoundingClientRect();
    return [(event.clientX - box.left) * this.pad.width / box.width, (event.clientY - box.top) * this.pad.height / box.height];
  }

  start(event) {
    this.drawing = true;
    this.pad.setPointerCapture(event.pointerId);
    this.last = this.point(event);
    this.stroke(this.last);
  }

  move(event) {
    if (!this.drawing) return;
    this.stroke(this.point(event));
    const now = performance.now();
    if (!this.lastPrediction || now - this.lastPrediction > 150) { this.lastPrediction = now; this.predict(); }
  }

  end() {
    if (!this.drawing) return;
    this.drawing = false;
    this.predict();
  }

  stroke([x, y]) {
    const context = this.context;
    context.strokeStyle = "#fff";
    context.lineWidth = 20;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.beginPath();
    context.moveTo(this.last[0], this.last[1]);
    context.lineTo(x, y);
    context.stroke();
    this.last = [x, y];
    this.dirty = true;
  }

  async predict() {
    if (!this.dirty) return;
    const source = document.getElementById("draw-source").value;
    const id = source === "model" ? "model" : this.app.train.id;
    if (!id) return;
    if (this.busy) { this.again = true; return; }
    this.busy = true;
    try {
      const result = await api(`/api/session/${id}/draw`, {image: this.pad.toDataURL("image/png")});
      this.show(result);
      clearError();
    } catch (error) {
      say(error.message, true);
    } finally {
      this.busy = false;
      if (this.again) { this.again = false; this.predict(); }
    }
  }

  show(result) {
    const [height, width] = result.shape;
    const seen = document.getElementById("seen");
    const small = document.createElement("canvas");
    small.width = width; small.height = height;
    const image = small.getContext("2d").createImageData(width, height);
    result.input.forEach((v, i) => {
      const g = Math.round(255 * Math.max(0, Math.min(1, v)));
      image.data.set([g, g, g, 255], 4 * i);
    });
    small.getContext("2d").putImageData(image, 0, 0);
    const context = seen.getContext("2d");
    context.imageSmoothingEnabled = false;
    context.drawImage(small, 0, 0, seen.width, seen.height);
    const output = result.layers[result.layers.length - 1];
    const classes = output.length === result.classes.length ? result.classes : output.map((_, j) => String(j));
    const name = classes[result.prediction] ?? String(result.prediction);
    document.getElementById("prediction").textContent = name;
    const order = output.map((v, j) => j);
    document.getElementById("bars").replaceChildren(...order.map(j => {
      const fill = element("div", {class: "fill"});
      fill.style.width = `${Math.max(0, Math.min(1, output[j])) * 100}%`;
      return element("div", {class: j === result.prediction ? "bar top" : "bar"},
        element("span", {class: "name", text: classes[j]}),
        element("div", {class: "track"}, fill),
        element("span", {class: "value", text: format(output[j], 3)}));
    }));
    const layers = result.layers.map((values, l) => {
      const peak = Math.max(1e-12, ...values.map(Math.abs));
      const bounded = ["sigmoid", "softmax"].includes(result.activations[l]);
      const cells = values.map((v, j) => {
        const cell = element("div", {class: "cell", title: `a^${l + 1}_${j} = ${format(v, 4)}`});
        cell.style.background = css(bounded ? v : v / peak);    // probabilities: white 0 to blue 1
        return cell;
      });
      return element("div", {class: "act-layer"},
        element("div", {class: "hint", text: `layer ${l + 1}: ${values.length} ${result.activations[l]} neurons`}),
        element("div", {class: "cells"}, ...cells));
    });
    document.getElementById("draw-layers").replaceChildren(...layers);
  }
}
