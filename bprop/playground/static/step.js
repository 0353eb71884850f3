// Step: one backpropagation step, one stage per click. Every number is a value of the trace
// the server computed with bprop.trace (the JSON of `bprop trace --format json`); this file
// only chooses which ones to show and writes them into the equations.
import {api, clearError, download, element, format, say} from "./common.js";
import {canvasPoint, drawNetwork, nearestEdge} from "./netdraw.js";

const SIGMA = {sigmoid: "σ", tanh: "tanh", relu: "relu", leaky_relu: "leaky_relu", identity: "id", softmax: "softmax"};
const SUB = "₀₁₂₃₄₅₆₇₈₉";
const sub = n => String(n).split("").map(d => SUB[d] ?? d).join("");
const SUP = {"0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹", "-": "⁻", "(": "⁽", ")": "⁾", "L": "ᴸ", "l": "ˡ"};
const sup = s => String(s).split("").map(c => SUP[c] ?? c).join("");

export class StepView {
  constructor(app) {
    this.app = app;
    this.examples = app.options.examples;
    const names = Object.keys(this.examples);
    const select = document.getElementById("step-example");
    select.replaceChildren(...names.map(n => element("option", {value: n, text: n})));
    const decimals = document.getElementById("step-decimals");
    decimals.replaceChildren(...[2, 3, 4, 5, 6, 7, 8, 9, 10, 12].map(d => element("option", {value: d, text: d})));
    const params = app.params;
    this.decimals = parseInt(params.get("dec") || "4", 10);
    decimals.value = String(this.decimals);
    let name = params.get("ex");
    if (!names.includes(name)) name = names.includes("mazur-222") ? "mazur-222" : names[0];
    select.value = name;
    this.spec = structuredClone(this.examples[name]);
    if (params.has("spec")) {
      try { this.spec = JSON.parse(params.get("spec")); } catch (error) { say("the step in the URL is not valid JSON", true); }
    }
    this.stage = parseInt(params.get("stage") || "0", 10) || 0;
    this.selected = null;
    this.hits = [];
    select.addEventListener("change", () => {
      this.spec = structuredClone(this.examples[select.value]);
      app.remember({ex: select.value, spec: null});
      this.stage = 0;
      this.run();
    });
    decimals.addEventListener("change", () => {
      this.decimals = parseInt(decimals.value, 10);
      app.remember({dec: this.decimals});
      this.render();
    });
    document.getElementById("step-next").addEventListener("click", () => this.go(this.stage + 1));
    document.getElementById("step-prev").addEventListener("click", () => this.go(this.stage - 1));
    document.getElementById("step-first").addEventListener("click", () => this.go(0));
    document.getElementById("step-reverse").addEventListener("change", () => this.render());
    document.getElementById("step-apply").addEventListener("click", () => this.applyEdits());
    document.getElementById("step-markdown").addEventListener("click", () => this.download("markdown", "md"));
    document.getElementById("step-latex").addEventListener("click", () => this.download("latex", "tex"));
    document.getElementById("step-canvas").addEventListener("click", event => this.clickEdge(event));
  }

  shown() {                             // the first look at Step runs its trace
    if (!this.started) { this.started = true; this.run(); } else this.render();
  }

  async run(weight = null) {
    try {
      const body = weight ? {...this.spec, weight} : this.spec;
      this.trace = await api("/api/step", body);
      this.selected = this.trace.paths.weight;
      this.stages = this.makeStages();
      this.stage = Math.max(0, Math.min(this.stage, this.stages.length - 1));
      this.buildEditor();
      this.render();
      clearError();
    } catch (error) {
      say(error.message, true);
    }
  }

  go(stage) {
    if (!this.stages) return;
    this.stage = Math.max(0, Math.min(stage, this.stages.length - 1));
    this.app.remember({stage: this.stage});
    this.render();
  }

  makeStages() {
    const L = this.trace.sizes.length - 1;
    const stages = [];
    for (let l = 1; l <= L; l++) stages.push({kind: "forward", l, title: `forward pass, layer ${l}`});
    stages.push({kind: "cost", l: L, title: "the cost C and ∇ₐC"});
    stages.push({kind: "bp1", l: L, title: `BP1: the output error δ${sup("L")}`});
    for (let l = L - 1; l >= 1; l--) stages.push({kind: "bp2", l, title: `BP2: δ${sup(l)}, layer ${l}`});
    for (let l = L; l >= 1; l--) stages.push({kind: "grad", l, title: `BP3 and BP4: ∂C/∂b, ∂C/∂w of layer ${l}`});
    stages.push({kind: "update", l: L, title: "the update w → w − η ∂C/∂w"});
    return stages;
  }

  // ---- showing a stage ----------------------------------------------------------------
  render() {
    if (!this.trace || this.app.view !== "step") return;
    const stage = this.stages[this.stage];
    document.getElementById("step-number").textContent = String(this.stage + 1);
    document.getElementById("step-count").textContent = String(this.stages.length);
    document.getElementById("step-title").textContent = stage.title;
    document.getElementById("step-prev").disabled = this.stage === 0;
    document.getElementById("step-next").disabled = this.stage === this.stages.length - 1;
    document.getElementById("step-stages").replaceChildren(...this.stages.map((s, i) => element("li", {
      class: i === this.stage ? "current" : i < this.stage ? "done" : "", text: s.title, onclick: () => this.go(i)})));
    this.drawPicture(stage);
    document.getElementById("step-equations").replaceChildren(...this.equations(stage));
    document.getElementById("step-paths").replaceChildren(...this.paths());
  }

  f(value) { return format(value, this.decimals); }
  p(value) { return value < 0 ? `(${this.f(value)})` : this.f(value); }   // a factor in a product

  drawPicture(stage) {
    const t = this.trace, L = t.sizes.length - 1, i = 0;
    const backward = ["bp1", "bp2", "grad"].includes(stage.kind);
    const reverse = backward && document.getElementById("step-reverse").checked;
    const deltaFrom = stage.kind === "bp1" ? L : stage.kind === "bp2" ? stage.l : stage.kind === "grad" || stage.kind === "update" ? 1 : L + 1;
    const nodeText = (l, j) => {
      if (l === 0) return [`x=${this.f(t.x[i][j])}`];
      const layer = t.layers[l - 1];
      if (stage.kind === "forward" && l > stage.l) return [];
      if (reverse) {   // Li Hung-yi's picture: each neuron an amplifier σ'(z) on what flows back into it
        if (l < deltaFrom) return [layer.sigma_prime ? `×σ'=${this.f(layer.sigma_prime[i][j])}` : "×∂a/∂z"];
        return [`${l === L ? "∂C/∂a" : "in"}=${this.f(layer.upstream[i][j])}`,
                layer.sigma_prime ? `×σ'=${this.f(layer.sigma_prime[i][j])}` : "×∂a/∂z",
                `δ=${this.f(layer.delta[i][j])}`];
      }
      const lines = [`z=${this.f(layer.z[i][j])}`, `a=${this.f(layer.a[i][j])}`];
      if (stage.kind === "cost" && l === L) lines.push(`y=${this.f(t.y[i][j])}`);
      if (backward && l >= deltaFrom) lines.push(`δ=${this.f(layer.delta[i][j])}`);
      if (stage.kind === "update") lines.push(`b→${this.f(layer.b_new[j])}`);
      return lines;
    };
    const edgeLabels = t.sizes.slice(1).reduce((sum, n, l) => sum + n * t.sizes[l], 0) <= 24;
    const edgeText = (l, j, k) => {
      const layer = t.layers[l - 1];
      const selected = this.selected && this.selected[0] === l && this.selected[1] === j && this.selected[2] === k;
      if (!edgeLabels && !selected) return null;
      if (stage.kind === "grad" && l === stage.l) return `∂C/∂w=${this.f(layer.nabla_w[j][k])}`;
      if (stage.kind === "update") return `w→${this.f(layer.w_new[j][k])}`;
      return `w=${this.f(layer.w[j][k])}`;
    };
    const active = new Set();
    for (let l = 0; l <= L; l++) {
      if (stage.kind === "forward" ? l <= stage.l : stage.kind === "bp2" ? l >= stage.l : stage.kind === "grad" ? l === stage.l || l === stage.l - 1 : true) active.add(l);
    }
    const canvas = document.getElementById("step-canvas");
    const names = t.sizes.map((n, l) => l === 0 ? "input a⁰ = x" : `layer ${l} (${t.layers[l - 1].activation})`);
    this.hits = drawNetwork(canvas, {
      sizes: t.sizes, edges: t.layers.map(layer => stage.kind === "grad" ? layer.nabla_w : layer.w),
      nodeText, edgeText, selected: this.selected, reverse, amplifiers: reverse, activeLayers: active,
      nodeSize: 34, layerNames: names, gap: 170,
    });
  }

  equations(stage) {
    const t = this.trace, L = t.sizes.length - 1, i = 0;
    const out = [];
    const label = text => out.push(element("div", {class: "label", text}));
    const eq = text => out.push(element("div", {class: "eq", text}));
    const a = (l, k) => l === 0 ? t.x[i][k] : t.layers[l - 1].a[i][k];
    const m = t.x.length;
    if (m > 1) label(`A mini-batch of ${m} examples: the numbers below are example 1's; BP3 and BP4 average over all ${m}.`);
    if (stage.kind === "forward") {
      const l = stage.l, layer = t.layers[l - 1], name = SIGMA[layer.activation];
      label(`z${sup(l)} = w${sup(l)} a${sup(l - 1)} + b${sup(l)}, then a${sup(l)} = ${name}(z${sup(l)})`);
      layer.z[i].forEach((z, j) => {
        const terms = layer.w[j].map((w, k) => `${this.p(w)}·${this.p(a(l - 1, k))}`).join(" + ");
        eq(`z${sup(l)}${sub(j)} = ${terms} + ${this.p(layer.b[j])} = ${this.f(z)}`);
      });
      layer.a[i].forEach((value, j) => eq(layer.activation === "softmax"
        ? `a${sup(l)}${sub(j)} = e^z${sub(j)} / Σₖ e^zₖ = ${this.f(value)}`
        : `a${sup(l)}${sub(j)} = ${name}(${this.f(layer.z[i][j])}) = ${this.f(value)}`));
    } else if (stage.kind === "cost") {
      const layer = t.layers[L - 1], y = t.y[i], aL = layer.a[i];
      if (t.cost === "quadratic") {
        label("C = ½ Σⱼ (yⱼ − aᴸⱼ)²   (the quadratic cost)");
        eq(`C = ½ [${aL.map((v, j) => `(${this.f(y[j])} − ${this.f(v)})²`).join(" + ")}] = ${this.f(t.costs[i])}`);
      } else if (layer.activation === "softmax") {
        label("C = −Σⱼ yⱼ ln aᴸⱼ   (cross-entropy)");
        eq(`C = −[${aL.map((v, j) => `${this.f(y[j])}·ln ${this.f(v)}`).join(" + ")}] = ${this.f(t.costs[i])}`);
      } else {
        label("C = −Σⱼ [yⱼ ln aᴸⱼ + (1 − yⱼ) ln(1 − aᴸⱼ)]   (cross-entropy)");
        eq(`C = ${this.f(t.costs[i])}`);
      }
      if (m > 1) eq(`C = (1/m) Σₓ Cₓ = ${this.f(t.cost_value)}`);
      out.push(element("div", {class: "eq", id: "step-cost", text: `E = C = ${this.f(t.cost_value)}`}));
      label("∇ₐC, how fast C changes with each output:");
      layer.upstream[i].forEach((g, j) => eq(t.cost === "quadratic"
        ? `∂C/∂aᴸ${sub(j)} = aᴸ${sub(j)} − y${sub(j)} = ${this.f(aL[j])} − ${this.f(y[j])} = ${this.f(g)}`
        : `∂C/∂aᴸ${sub(j)} = ${this.f(g)}`));
    } else if (stage.kind === "bp1") {
      const layer = t.layers[L - 1];
      label("BP1: δᴸ = ∇ₐC ⊙ σ'(zᴸ)");
      layer.delta[i].forEach((d, j) => {
        if (layer.sigma_prime) {
          eq(`δᴸ${sub(j)} = ${this.p(layer.upstream[i][j])}·${this.p(layer.sigma_prime[i][j])} = ${this.f(t.delta_general[i][j])}`);
        } else {
          eq(`δᴸ${sub(j)} = Σₖ (∂aₖ/∂z${sub(j)}) (∇ₐC)ₖ = ${this.f(t.delta_general[i][j])}`);
        }
      });
      if (layer.sigma_prime && layer.activation === "sigmoid") {
        layer.sigma_prime[i].forEach((s, j) => eq(`σ'(zᴸ${sub(j)}) = a(1 − a) = ${this.f(layer.a[i][j])}·(1 − ${this.f(layer.a[i][j])}) = ${this.f(s)}`));
      }
      if (t.fused) {
        label("With this output and cross-entropy the product simplifies to δᴸ = aᴸ − y, which bprop computes:");
        layer.delta[i].forEach((d, j) => eq(`δᴸ${sub(j)} = ${this.f(layer.a[i][j])} − ${this.f(t.y[i][j])} = ${this.f(d)}`));
      }
    } else if (stage.kind === "bp2") {
      const l = stage.l, layer = t.layers[l - 1], above = t.layers[l];
      label(`BP2: δ${sup(l)} = ((w${sup(l + 1)})ᵀ δ${sup(l + 1)}) ⊙ σ'(z${sup(l)})`);
      layer.delta[i].forEach((d, j) => {
        const terms = above.w.map((row, k) => `${this.p(row[j])}·${this.p(above.delta[i][k])}`).join(" + ");
        eq(`δ${sup(l)}${sub(j)} = (${terms})·${this.p(layer.sigma_prime[i][j])} = ${this.f(layer.upstream[i][j])}·${this.p(layer.sigma_prime[i][j])} = ${this.f(d)}`);
      });
    } else if (stage.kind === "grad") {
      const l = stage.l, layer = t.layers[l - 1];
      label(`BP3: ∂C/∂b${sup(l)}ⱼ = δ${sup(l)}ⱼ      BP4: ∂C/∂w${sup(l)}ⱼₖ = a${sup(l - 1)}ₖ δ${sup(l)}ⱼ` + (m > 1 ? "   (means over the mini-batch)" : ""));
      label("beside each, a finite difference (C(p + ε) − C(p − ε)) / 2ε, computed by bprop too:");
      layer.nabla_b.forEach((g, j) => eq(`∂C/∂b${sup(l)}${sub(j)} = ${this.f(layer.delta[i][j])}${m > 1 ? " …" : ""} = ${this.f(g)}    finite difference ${this.f(layer.fd_b[j])}    difference ${(g - layer.fd_b[j]).toExponential(1)}`));
      layer.nabla_w.forEach((row, j) => row.forEach((g, k) => eq(
        `∂C/∂w${sup(l)}${sub(j)}${sub(k)} = ${this.p(a(l - 1, k))}·${this.p(layer.delta[i][j])}${m > 1 ? " …" : ""} = ${this.f(g)}    finite difference ${this.f(layer.fd_w[j][k])}    difference ${(g - layer.fd_w[j][k]).toExponential(1)}`)));
    } else if (stage.kind === "update") {
      label(`w → w − η ∂C/∂w and b → b − η ∂C/∂b, with η = ${t.learning_rate}`);
      t.layers.forEach((layer, index) => {
        const l = index + 1;
        layer.w.forEach((row, j) => row.forEach((w, k) => eq(
          `w${sup(l)}${sub(j)}${sub(k)} → ${this.f(w)} − ${t.learning_rate}·${this.p(layer.nabla_w[j][k])} = ${this.f(layer.w_new[j][k])}`)));
        layer.b.forEach((b, j) => eq(`b${sup(l)}${sub(j)} → ${this.f(b)} − ${t.learning_rate}·${this.p(layer.nabla_b[j])} = ${this.f(layer.b_new[j])}`));
      });
      label(`The cost with the new weights: C = ${this.f(t.cost_after)} (it was ${this.f(t.cost_value)}).`);
    }
    return out;
  }

  paths() {
    const t = this.trace, sums = t.paths, [l, j, k] = sums.weight;
    const out = [];
    const name = `w${sup(l)}${sub(j)}${sub(k)}`;
    out.push(element("div", {class: "label", text: `∂C/∂${name}: one product per path from the weight to the cost (${sums.count} path${sums.count === 1 ? "" : "s"} per example). Click another edge to choose a weight.`}));
    if (!sums.paths) {
      out.push(element("div", {class: "eq", text: `too many paths to list; BP4 gives ${this.f(sums.bp4)}`}));
      return out;
    }
    const symbol = factor => {
      const ix = factor.index;
      switch (factor.factor) {
        case "a": return `a${sup(ix[0])}${sub(ix[1])}`;
        case "sigma_prime": return `σ'(z${sup(ix[0])}${sub(ix[1])})`;
        case "w": return `w${sup(ix[0])}${sub(ix[1])}${sub(ix[2])}`;
        case "jacobian": return `∂a${sup(ix[0])}${sub(ix[1])}/∂z${sup(ix[0])}${sub(ix[2])}`;
        case "cost_gradient": return `∂C/∂a${sup(ix[0])}${sub(ix[1])}`;
        default: return factor.factor;
      }
    };
    for (const path of sums.paths[0]) {
      const route = [name, ...path.neurons.map((n, q) => `a${sup(l + q)}${sub(n)}`), "C"].join(" → ");
      out.push(element("div", {class: "eq", text: route}));
      out.push(element("div", {class: "eq", text: "   " + path.factors.map(symbol).join("·")}));
      out.push(element("div", {class: "eq", text: "   " + path.factors.map(f => this.p(f.value)).join("·") + ` = ${this.f(path.product)}`}));
    }
    out.push(element("div", {class: "eq", text: `sum over the paths = ${this.f(sums.sums[0])}`}));
    out.push(element("div", {class: "eq check", text: `BP4: ∂C/∂${name} = ${this.f(sums.bp4)}`}));
    return out;
  }

  clickEdge(event) {
    const [x, y] = canvasPoint(event.currentTarget, event);
    const hit = nearestEdge(this.hits, x, y);
    if (!hit) return;
    this.run([hit.l, hit.j, hit.k]);
  }

  // ---- editing --------------------------------------------------------------------------
  buildEditor() {
    const spec = this.spec;
    const field = (label, key, value) => {
      const input = element("input", {id: `step-edit-${key}`, value: JSON.stringify(value)});
      return element("label", {}, element("span", {text: label}), input);
    };
    const rows = [
      field("input x", "input", spec.input), field("target y", "target", spec.target),
      field("η", "eta", spec.eta ?? spec.learning_rate ?? 0.5),
      ...spec.weights.map((w, l) => field(`w${sup(l + 1)}`, `w${l}`, w)),
      ...spec.biases.map((b, l) => field(`b${sup(l + 1)}`, `b${l}`, b)),
    ];
    document.getElementById("step-editor").replaceChildren(
      element("div", {class: "hint", text: `sizes ${JSON.stringify(spec.sizes)}, ${JSON.stringify(spec.activations || spec.activation)}, ${spec.cost || "quadratic"} cost`}),
      ...rows);
  }

  applyEdits() {
    try {
      const read = key => JSON.parse(document.getElementById(`step-edit-${key}`).value);
      const spec = structuredClone(this.spec);
      spec.input = read("input"); spec.target = read("target");
      delete spec.learning_rate; spec.eta = read("eta");
      spec.weights = spec.weights.map((_, l) => read(`w${l}`));
      spec.biases = spec.biases.map((_, l) => read(`b${l}`));
      delete spec.description;
      this.spec = spec;
      this.app.remember({spec: JSON.stringify(spec)});
      this.stage = 0;
      this.run();
    } catch (error) {
      say(`cannot read the edited values: ${error.message}`, true);
    }
  }

  async download(format, suffix) {
    try {
      await download("/api/step/render", {spec: this.selected ? {...this.spec, weight: this.selected} : this.spec, format}, `bprop-step.${suffix}`);
    } catch (error) {
      say(error.message, true);
    }
  }
}
