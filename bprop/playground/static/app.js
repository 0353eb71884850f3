// The page: three views, and their state kept in the URL so a link reproduces a configuration.
import {api, say} from "./common.js";
import {TrainView} from "./train.js";
import {DrawView} from "./draw.js";
import {StepView} from "./step.js";

const VIEWS = ["train", "draw", "step"];

class App {
  constructor(options) {
    this.options = options;
    this.params = new URLSearchParams(location.search);
    this.view = VIEWS.includes(this.params.get("view")) ? this.params.get("view") : "train";
    this.train = new TrainView(this);
    this.draw = new DrawView(this);
    this.step = new StepView(this);
    for (const button of document.querySelectorAll("#tabs .tab")) {
      button.addEventListener("click", () => this.show(button.dataset.view));
    }
    this.show(this.view);
  }

  show(view) {
    this.view = view;
    for (const name of VIEWS) {
      document.getElementById(`view-${name}`).hidden = name !== view;
      document.querySelector(`#tabs .tab[data-view=${name}]`).classList.toggle("active", name === view);
    }
    if (view === "draw") this.draw.shown();
    if (view === "step") this.step.shown();
    this.remember({view});
  }

  // Merge these keys into the URL (null removes one), without reloading the page.
  remember(values) {
    for (const [key, value] of Object.entries(values)) {
      if (value === null || value === undefined) this.params.delete(key);
      else this.params.set(key, String(value));
    }
    history.replaceState(null, "", `${location.pathname}?${this.params.toString()}`);
  }
}

async function main() {
  try {
    const options = await api("/api/options");
    window.playground = new App(options);
  } catch (error) {
    say(`cannot reach the playground server: ${error.message}`, true);
  }
}

main();
