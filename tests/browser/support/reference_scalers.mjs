// The three scalers of the browser node, written again from their
// description in web/scalers.js for the tests to compare the page's canvas
// with: an image is {width, height, px: [[r, g, b, a], ...]} row by row.

function pixelAt(img, x, y) {
  const cx = Math.min(img.width - 1, Math.max(0, x));
  const cy = Math.min(img.height - 1, Math.max(0, y));
  return img.px[cy * img.width + cx];
}

const equal = (p, q) => p.every((v, i) => v === q[i]);

function alike(p, q) {
  const visible = (c) => c[3] >= 128;
  if (!visible(p) || !visible(q)) return visible(p) === visible(q);
  const y = (c) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
  const u = (c) => -0.169 * c[0] - 0.331 * c[1] + 0.5 * c[2];
  const v = (c) => 0.5 * c[0] - 0.419 * c[1] - 0.081 * c[2];
  return Math.abs(y(p) - y(q)) <= 48 && Math.abs(u(p) - u(q)) <= 7 && Math.abs(v(p) - v(q)) <= 6;
}

// Alpha-weighted mean of [pixel, weight] pairs.
function mix(pairs) {
  const weights = pairs.reduce((s, [, w]) => s + w, 0);
  const alphaWeights = pairs.reduce((s, [c, w]) => s + c[3] * w, 0);
  const channel = (i) => (alphaWeights ? Math.round(pairs.reduce((s, [c, w]) => s + c[i] * c[3] * w, 0) / alphaWeights) : 0);
  return [channel(0), channel(1), channel(2), Math.round(alphaWeights / weights)];
}

// rule(E, A, B, D, F, H) for each corner, B and D the orthogonal neighbours
// at that corner and A the diagonal one.
function twice(img, rule) {
  const out = { width: img.width * 2, height: img.height * 2, px: [] };
  for (let y = 0; y < out.height; y++) {
    for (let x = 0; x < out.width; x++) {
      const sx = x >> 1, sy = y >> 1;
      const dx = x & 1 ? 1 : -1, dy = y & 1 ? 1 : -1;  // towards the corner
      const E = pixelAt(img, sx, sy);
      const B = pixelAt(img, sx, sy + dy), D = pixelAt(img, sx + dx, sy), A = pixelAt(img, sx + dx, sy + dy);
      const H = pixelAt(img, sx, sy - dy), F = pixelAt(img, sx - dx, sy);
      out.px.push(rule(E, A, B, D, F, H));
    }
  }
  return out;
}

export const referenceScalers = {
  nearest: (img) => twice(img, (E) => E),
  epx: (img) => twice(img, (E, A, B, D, F, H) => (equal(B, D) && !equal(B, F) && !equal(D, H) ? B : E)),
  hq2x: (img) => twice(img, (E, A, B, D, F, H) => {
    if (alike(B, D) && !alike(B, F) && !alike(D, H)) return mix([[E, 2], [B, 1], [D, 1]]);
    if (!alike(E, A) && alike(E, B) && alike(E, D)) return mix([[E, 3], [A, 1]]);
    return E;
  }),
};

export function fromRgba(width, height, bytes) {
  const px = [];
  for (let i = 0; i < width * height * 4; i += 4) px.push([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
  return { width, height, px };
}
