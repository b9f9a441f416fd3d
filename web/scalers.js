// Scalers: the pixel-art upscalers the browser node draws its sprites with.
//
// A sprite is a few dozen pixels; a screen shows it four times larger. How
// the missing pixels are made is what the original project compared for its
// sprites, so the page offers three, each a 2x step applied twice (4x):
//
//  - nearest: every pixel becomes a 2x2 block. Crisp, blocky; the default.
//  - epx: Scale2x (EPX). A corner of the 2x2 block takes the colour of its
//    two orthogonal neighbours when they are equal to each other and the
//    other two differ: diagonal staircases become smooth lines, and no new
//    colour is ever made.
//  - hq2x: in the style of hq2x. Colours are "alike" when they are close in
//    YUV (|dY| <= 48, |dU| <= 7, |dV| <= 6, as hq2x does; transparent pixels
//    are alike each other and unlike any visible one). A corner is blended
//    rather than copied: where EPX would copy (the two neighbours alike, the
//    other two not), the corner is (2E + B + D) / 4; where only the diagonal
//    neighbour differs, (3E + A) / 4; else E. Blends are weighted by alpha,
//    so a transparent neighbour thins the edge instead of darkening it.
//
// Images are {width, height, data} with data RGBA bytes, as in ImageData.
// Pixels past the border repeat the border pixel. The browser tests compute
// the same pixels with their own code and compare them with the canvas.

const at = (img, x, y) => {
  const cx = x < 0 ? 0 : x >= img.width ? img.width - 1 : x;
  const cy = y < 0 ? 0 : y >= img.height ? img.height - 1 : y;
  return (cy * img.width + cx) * 4;
};

const same = (d, i, j) => d[i] === d[j] && d[i + 1] === d[j + 1] && d[i + 2] === d[j + 2] && d[i + 3] === d[j + 3];

function yuv(d, i) {
  const r = d[i], g = d[i + 1], b = d[i + 2];
  return [0.299 * r + 0.587 * g + 0.114 * b, -0.169 * r - 0.331 * g + 0.5 * b, 0.5 * r - 0.419 * g - 0.081 * b];
}

function alike(d, i, j) {
  const vi = d[i + 3] >= 128, vj = d[j + 3] >= 128;
  if (!vi || !vj) return vi === vj;
  const [y1, u1, v1] = yuv(d, i);
  const [y2, u2, v2] = yuv(d, j);
  return Math.abs(y1 - y2) <= 48 && Math.abs(u1 - u2) <= 7 && Math.abs(v1 - v2) <= 6;
}

// Writes the alpha-weighted blend of (index, weight) pairs of `d` to out[o..o+3].
function blend(out, o, d, parts) {
  let wa = 0, w = 0, r = 0, g = 0, b = 0;
  for (const [i, k] of parts) {
    const a = d[i + 3] * k;
    w += k;
    wa += a;
    r += d[i] * a;
    g += d[i + 1] * a;
    b += d[i + 2] * a;
  }
  out[o] = wa ? Math.round(r / wa) : 0;
  out[o + 1] = wa ? Math.round(g / wa) : 0;
  out[o + 2] = wa ? Math.round(b / wa) : 0;
  out[o + 3] = Math.round(wa / w);
}

function copy(out, o, d, i) {
  out[o] = d[i];
  out[o + 1] = d[i + 1];
  out[o + 2] = d[i + 2];
  out[o + 3] = d[i + 3];
}

// Calls corner(out, o, E, A, B, D, F, H) for the four output pixels of every
// input pixel, with the neighbours turned so that B and D are the two
// orthogonal neighbours at that corner, A the diagonal between them, F and H
// the opposite orthogonal ones.
function scale2x(img, corner) {
  const w = img.width, h = img.height, d = img.data;
  const out = new Uint8ClampedArray(w * h * 16);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const A = at(img, x - 1, y - 1), B = at(img, x, y - 1), C = at(img, x + 1, y - 1);
      const D = at(img, x - 1, y), E = at(img, x, y), F = at(img, x + 1, y);
      const G = at(img, x - 1, y + 1), H = at(img, x, y + 1), I = at(img, x + 1, y + 1);
      const row0 = (2 * y * 2 * w + 2 * x) * 4, row1 = row0 + 2 * w * 4;
      corner(out, row0, d, E, A, B, D, F, H);      // top left
      corner(out, row0 + 4, d, E, C, B, F, D, H);  // top right
      corner(out, row1, d, E, G, H, D, F, B);      // bottom left
      corner(out, row1 + 4, d, E, I, H, F, D, B);  // bottom right
    }
  }
  return { width: 2 * w, height: 2 * h, data: out };
}

export function nearest2x(img) {
  return scale2x(img, (out, o, d, E) => copy(out, o, d, E));
}

export function epx2x(img) {
  return scale2x(img, (out, o, d, E, A, B, D, F, H) => {
    const edge = same(d, B, D) && !same(d, B, F) && !same(d, D, H);
    copy(out, o, d, edge ? B : E);
  });
}

export function hq2x(img) {
  return scale2x(img, (out, o, d, E, A, B, D, F, H) => {
    if (alike(d, B, D) && !alike(d, B, F) && !alike(d, D, H)) blend(out, o, d, [[E, 2], [B, 1], [D, 1]]);
    else if (!alike(d, E, A) && alike(d, E, B) && alike(d, E, D)) blend(out, o, d, [[E, 3], [A, 1]]);
    else copy(out, o, d, E);
  });
}

export const SCALERS = { nearest: nearest2x, epx: epx2x, hq2x: hq2x };

// `img` four times larger with the scaler named `name` (two 2x steps).
export function scale4x(img, name) {
  const step = SCALERS[name] || nearest2x;
  return step(step(img));
}
