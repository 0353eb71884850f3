// A line chart on a canvas: the training and validation curves. It only draws the points given.

export function lineChart(canvas, series, {xLabel = "epoch", yMin = null, yMax = null} = {}) {
  const context = canvas.getContext("2d");
  const width = canvas.width, height = canvas.height;
  const left = 40, right = 8, top = 8, bottom = 22;
  context.clearRect(0, 0, width, height);
  const points = series.flatMap(s => s.points.filter(p => Number.isFinite(p[1])));
  context.font = "11px system-ui, sans-serif";
  context.fillStyle = "#666";
  context.strokeStyle = "#ccc";
  context.strokeRect(left, top, width - left - right, height - top - bottom);
  if (points.length === 0) {
    context.fillText("press ▶ to train", left + 10, top + 20);
    return;
  }
  let x0 = Math.min(...points.map(p => p[0])), x1 = Math.max(...points.map(p => p[0]));
  let y0 = yMin ?? Math.min(...points.map(p => p[1])), y1 = yMax ?? Math.max(...points.map(p => p[1]));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 = y0 + 1; }
  const X = x => left + (x - x0) / (x1 - x0) * (width - left - right);
  const Y = y => top + (1 - (y - y0) / (y1 - y0)) * (height - top - bottom);
  context.fillText(y1.toPrecision(3), 2, top + 9);
  context.fillText(y0.toPrecision(3), 2, height - bottom);
  context.fillText(`${xLabel} ${x1.toFixed(x1 < 10 ? 2 : 0)}`, width - right - 70, height - 6);
  for (const s of series) {
    context.strokeStyle = s.colour;
    context.setLineDash(s.dashed ? [4, 3] : []);
    context.lineWidth = 1.5;
    context.beginPath();
    let started = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y)) continue;
      if (started) context.lineTo(X(x), Y(y)); else { context.moveTo(X(x), Y(y)); started = true; }
    }
    context.stroke();
  }
  context.setLineDash([]);
}
