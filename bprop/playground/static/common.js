// Shared helpers: talking to the server, colours, and turning the server's bytes into pictures.
// Nothing here computes anything about the network: every number comes from the server.

export async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const text = await response.text();
  let value;
  try { value = JSON.parse(text); } catch (error) { value = {error: text}; }
  if (!response.ok) throw new Error(value.error || `${response.status} ${response.statusText}`);
  return value;
}

export async function download(path, body, filename) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
  if (!response.ok) {
    const value = await response.json().catch(() => ({}));
    throw new Error(value.error || `${response.status}`);
  }
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

export function say(text, isError = false) {
  const element = document.getElementById("message");
  element.textContent = text || "";
  element.style.color = isError ? "#ffb3a7" : "#ffd7a0";
  element.dataset.error = isError ? "yes" : "";
}

export function clearError() {        // a success clears an error message, not news
  if (document.getElementById("message").dataset.error) say("");
}

// TensorFlow Playground's palette: orange for -1, white for 0, blue for +1.
const ORANGE = [245, 147, 34], WHITE = [232, 234, 235], BLUE = [8, 119, 189];

export function colour(v) {            // v in [-1, 1]
  const t = Math.max(-1, Math.min(1, v));
  const [from, to, s] = t < 0 ? [WHITE, ORANGE, -t] : [WHITE, BLUE, t];
  return [0, 1, 2].map(i => Math.round(from[i] + (to[i] - from[i]) * s));
}

export function css(v, alpha = 1) {
  const [r, g, b] = colour(v);
  return `rgba(${r},${g},${b},${alpha})`;
}

export function bytes(base64) {        // the server's base64 bytes, 0..255 meaning -1..1
  const raw = atob(base64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

// A small canvas holding a width × height picture of the bytes, in the palette (or grey).
export function picture(base64, width, height, grey = false) {
  const values = bytes(base64);
  const canvas = document.createElement("canvas");
  canvas.width = width; canvas.height = height;
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  for (let i = 0; i < values.length && i < width * height; i++) {
    const v = values[i] / 127.5 - 1;
    const [r, g, b] = grey ? [values[i], values[i], values[i]] : colour(v);
    image.data.set([r, g, b, 255], 4 * i);
  }
  context.putImageData(image, 0, 0);
  return canvas;
}

export function format(value, decimals = 4) {
  if (value === null || value === undefined) return "–";
  if (!Number.isFinite(value)) return String(value);
  const text = value.toFixed(decimals);
  return text.startsWith("-") && Number(text) === 0 ? text.slice(1) : text;
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}
