// The network as a picture: layers in columns, an edge per weight (colour its sign, width its
// size), and on each neuron either a heat map (Train) or its numbers (Step). Draws only.
import {css} from "./common.js";

const MAX_SHOWN = 10;      // neurons drawn per layer; the rest are summarised as "+N"

export function drawNetwork(canvas, spec) {
  const context = canvas.getContext("2d");
  const {sizes, edges = [], maps = [], nodeText = null, edgeText = null, selected = null,
         reverse = false, amplifiers = false, activeLayers = null, nodeSize = 40, layerNames = null,
         gap: wantedGap = nodeSize * 1.6} = spec;
  const width = canvas.width, height = canvas.height;
  context.clearRect(0, 0, width, height);
  const L = sizes.length - 1;
  const margin = nodeText ? Math.max(nodeSize, 75) : nodeSize;
  const column = l => {
    const position = reverse ? L - l : l;
    return margin + position * (width - 2 * margin) / Math.max(1, L);
  };
  const shown = sizes.map(n => Math.min(n, MAX_SHOWN));
  const row = (l, j) => {
    const n = shown[l] + (sizes[l] > MAX_SHOWN ? 1 : 0);
    const gap = Math.min(wantedGap, (height - 60) / Math.max(1, n));
    return height / 2 + (j - (n - 1) / 2) * gap + 10;
  };
  // the largest |value| per layer scales the edge widths
  const hits = [];
  for (let l = 0; l < L; l++) {
    const matrix = edges[l];
    if (!matrix) continue;
    let peak = 0;
    for (const rowValues of matrix) for (const v of rowValues) peak = Math.max(peak, Math.abs(v));
    const dim = activeLayers && !activeLayers.has(l + 1);
    for (let j = 0; j < shown[l + 1]; j++) {
      for (let k = 0; k < shown[l]; k++) {
        const v = matrix[j][k];
        const x1 = column(l), y1 = row(l, k), x2 = column(l + 1), y2 = row(l + 1, j);
        const isSelected = selected && selected[0] === l + 1 && selected[1] === j && selected[2] === k;
        context.strokeStyle = isSelected ? "#c2185b" : css(peak ? v / peak : 0, dim ? 0.35 : 0.9);
        context.lineWidth = isSelected ? 4 : 0.5 + 4.5 * (peak ? Math.abs(v) / peak : 0);
        context.beginPath(); context.moveTo(x1, y1); context.lineTo(x2, y2); context.stroke();
        hits.push({l: l + 1, j, k, x1, y1, x2, y2});
        if (edgeText) {
          const text = edgeText(l + 1, j, k);
          if (text) {
            const spread = 0.2 + 0.35 * (shown[l + 1] > 1 ? j / (shown[l + 1] - 1) : 0);
            const t = reverse ? 1 - spread : spread;
            const x = x1 + (x2 - x1) * t, y = y1 + (y2 - y1) * t;
            context.font = "11px system-ui, sans-serif";
            const w = context.measureText(text).width;
            context.fillStyle = "rgba(255,255,255,0.85)";
            context.fillRect(x - w / 2 - 2, y - 7, w + 4, 13);
            context.fillStyle = isSelected ? "#c2185b" : "#333";
            context.fillText(text, x - w / 2, y + 4);
          }
        }
      }
    }
  }
  for (let l = 0; l <= L; l++) {
    const x = column(l);
    if (layerNames) {
      context.fillStyle = "#666"; context.font = "12px system-ui, sans-serif";
      const text = layerNames[l], w = context.measureText(text).width;
      context.fillText(text, Math.max(2, Math.min(width - w - 2, x - w / 2)), 12);
    }
    for (let j = 0; j < shown[l]; j++) {
      const y = row(l, j);
      const map = maps[l] && maps[l][j];
      const dim = activeLayers && !activeLayers.has(l);
      if (map) {
        context.drawImage(map, x - nodeSize / 2, y - nodeSize / 2, nodeSize, nodeSize);
        context.strokeStyle = "#555"; context.lineWidth = 1;
        context.strokeRect(x - nodeSize / 2, y - nodeSize / 2, nodeSize, nodeSize);
      } else {
        context.fillStyle = dim ? "#f4f4f4" : "#fff";
        context.strokeStyle = dim ? "#bbb" : "#183153"; context.lineWidth = 1.5;
        context.beginPath();
        if (amplifiers && l > 0) {       // Li Hung-yi's amplifier: a triangle pointing backward
          const s = nodeSize / 2, dir = reverse ? 1 : -1;
          context.moveTo(x - dir * s, y - s); context.lineTo(x - dir * s, y + s); context.lineTo(x + dir * s, y);
          context.closePath();
        } else {
          context.arc(x, y, nodeSize / 2, 0, 2 * Math.PI);
        }
        context.fill(); context.stroke();
      }
      if (nodeText) {
        const lines = nodeText(l, j) || [];
        context.font = "11px system-ui, sans-serif";
        lines.forEach((text, i) => {
          const w = context.measureText(text).width;
          const ty = y + nodeSize / 2 + 12 + 12 * i;
          context.fillStyle = "rgba(255,255,255,0.85)";
          context.fillRect(x - w / 2 - 2, ty - 10, w + 4, 13);
          context.fillStyle = dim ? "#999" : "#183153";
          context.fillText(text, x - w / 2, ty);
        });
      }
    }
    if (sizes[l] > MAX_SHOWN) {
      context.fillStyle = "#666"; context.font = "12px system-ui, sans-serif";
      const text = `+${sizes[l] - MAX_SHOWN} more`, w = context.measureText(text).width;
      context.fillText(text, Math.max(2, Math.min(width - w - 2, x - w / 2)), row(l, shown[l]) + 4);
    }
  }
  return hits;
}

export function nearestEdge(hits, x, y, within = 8) {
  let best = null, bestDistance = within;
  for (const hit of hits) {
    const dx = hit.x2 - hit.x1, dy = hit.y2 - hit.y1;
    const t = Math.max(0, Math.min(1, ((x - hit.x1) * dx + (y - hit.y1) * dy) / (dx * dx + dy * dy || 1)));
    const distance = Math.hypot(x - (hit.x1 + t * dx), y - (hit.y1 + t * dy));
    if (distance < bestDistance) { best = hit; bestDistance = distance; }
  }
  return best;
}

// Where a mouse event falls on the canvas, in the canvas's own pixels.
export function canvasPoint(canvas, event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
}
