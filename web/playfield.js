// Playfield: the browser node's screen, where sprites fly, are grabbed and
// flung, and leave by the edges.
//
// Positions are CSS pixels of the window, a sprite's (x, y) is its centre,
// velocities are CSS pixels per second. A sprite slows down by friction and
// stops. When its centre crosses an edge while it moves outwards (flung, or
// dragged over the edge by the pointer), it waits
// there ("leaving") while the page throws it in that direction; it is removed
// when the throw is accepted and bounces back when it is not. A sprite that
// arrives enters from the opposite edge at the same place along the edge
// (as a fraction of the edge, screens differ in size) with the velocity it
// left with; a returned sprite comes back in through the edge it left by.
//
// Drawing: each (kind, frame, scaler) is scaled once to 4x with scalers.js
// and kept as a small canvas, which is drawn without smoothing, so what a
// person sees is exactly the scaler's pixels. Nothing here talks to the
// relay: play.js wires the edges to NodeSession.

import { scale4x } from './scalers.js';
import { decode, spriteOf, SPRITE_SIZE } from './sprites.js';

export const SHOWN = SPRITE_SIZE * 4;  // CSS pixels of a sprite on screen
const FRICTION = 3;                    // 1/s: a fling at v travels v / 3 pixels
const MIN_ENTRY_SPEED = 120;           // px/s inwards, so an entering sprite clears its edge
export const MAX_SPEED = 2400;         // px/s: a fling travels at most 800 px
const FLING_WINDOW_MS = 100;           // pointer samples that make a fling's velocity

const OUTWARD = {
  left: (s) => s.x < 0 && s.vx < 0,
  right: (s, w) => s.x > w && s.vx > 0,
  up: (s) => s.y < 0 && s.vy < 0,
  down: (s, w, h) => s.y > h && s.vy > 0,
};

const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);

export class Playfield {
  // onEdge(sprite, direction, at): a sprite started leaving by an edge.
  constructor(canvas, { onEdge }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.onEdge = onEdge;
    this.sprites = [];
    this.scaler = 'nearest';
    this.cache = new Map();
    this.nextId = 1;
    this.held = null;
    this.resize();
    canvas.addEventListener('pointerdown', (e) => this.grab(e));
    canvas.addEventListener('pointermove', (e) => this.drag(e));
    canvas.addEventListener('pointerup', (e) => this.release(e));
    canvas.addEventListener('pointercancel', (e) => this.release(e));
  }

  resize() {
    const dpr = window.devicePixelRatio || 1;
    this.width = this.canvas.clientWidth;
    this.height = this.canvas.clientHeight;
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.dpr = dpr;
  }

  setScaler(name) {
    this.scaler = name;
  }

  // The 4x image of a kind's frame with the current scaler, as a canvas.
  image(kind, frame) {
    const key = `${kind}/${frame}/${this.scaler}`;
    let c = this.cache.get(key);
    if (!c) {
      const big = scale4x(decode(spriteOf(kind), frame), this.scaler);
      c = document.createElement('canvas');
      c.width = big.width;
      c.height = big.height;
      c.getContext('2d').putImageData(new ImageData(big.data, big.width, big.height), 0, 0);
      this.cache.set(key, c);
    }
    return c;
  }

  add({ kind, frame = 0, x, y, vx = 0, vy = 0 }) {
    const sprite = { id: this.nextId++, kind, frame, tick: 0, x, y, vx, vy, state: 'free' };
    this.sprites.push(sprite);
    return sprite;
  }

  remove(sprite) {
    this.sprites = this.sprites.filter((s) => s !== sprite);
  }

  // A sprite thrown towards `direction` by a neighbour: it comes in through
  // the opposite edge, `at` along it.
  enter(direction, { kind, frame, at, vx, vy }) {
    const w = this.width, h = this.height;
    const start = {
      right: { x: 0, y: at * h, vx: Math.max(vx, MIN_ENTRY_SPEED), vy },
      left: { x: w, y: at * h, vx: Math.min(vx, -MIN_ENTRY_SPEED), vy },
      down: { x: at * w, y: 0, vx, vy: Math.max(vy, MIN_ENTRY_SPEED) },
      up: { x: at * w, y: h, vx, vy: Math.min(vy, -MIN_ENTRY_SPEED) },
    }[direction];
    return this.add({ kind, frame, ...start });
  }

  // A sprite this node threw towards `direction` that came back: in through
  // the same edge, moving the other way.
  comeBack(direction, { kind, frame, at, vx, vy }) {
    const w = this.width, h = this.height;
    const start = {
      right: { x: w, y: at * h, vx: -Math.max(Math.abs(vx), MIN_ENTRY_SPEED), vy },
      left: { x: 0, y: at * h, vx: Math.max(Math.abs(vx), MIN_ENTRY_SPEED), vy },
      down: { x: at * w, y: h, vx, vy: -Math.max(Math.abs(vy), MIN_ENTRY_SPEED) },
      up: { x: at * w, y: 0, vx, vy: Math.max(Math.abs(vy), MIN_ENTRY_SPEED) },
    }[direction];
    return this.add({ kind, frame, ...start });
  }

  // A leaving sprite whose throw failed: back in, at half its speed.
  bounce(sprite, direction) {
    sprite.state = 'free';
    if (direction === 'left' || direction === 'right') sprite.vx = -sprite.vx / 2;
    else sprite.vy = -sprite.vy / 2;
    sprite.x = clamp(sprite.x, 0, this.width);
    sprite.y = clamp(sprite.y, 0, this.height);
  }

  step(dt) {
    const w = this.width, h = this.height;
    const slow = Math.exp(-FRICTION * dt);
    for (const s of this.sprites) {
      const kind = spriteOf(s.kind);
      s.tick += dt;
      if (s.tick >= 1 / kind.fps) {
        s.tick = 0;
        s.frame = (s.frame + 1) % kind.frames.length;
      }
      if (s.state !== 'free') continue;
      s.x += s.vx * dt;
      s.y += s.vy * dt;
      s.vx *= slow;
      s.vy *= slow;
      if (Math.hypot(s.vx, s.vy) < 2) s.vx = s.vy = 0;
      for (const direction of Object.keys(OUTWARD)) {
        if (!OUTWARD[direction](s, w, h)) continue;
        s.state = 'leaving';
        s.x = clamp(s.x, 0, w);
        s.y = clamp(s.y, 0, h);
        const at = direction === 'left' || direction === 'right' ? s.y / h : s.x / w;
        this.onEdge(s, direction, clamp(at, 0, 1));
        break;
      }
      if (s.state === 'free') {
        // Not leaving (it moves inwards at a corner, say): keep it on screen.
        s.x = clamp(s.x, 0, w);
        s.y = clamp(s.y, 0, h);
      }
    }
  }

  draw() {
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    ctx.imageSmoothingEnabled = false;
    for (const s of this.sprites) {
      ctx.globalAlpha = s.state === 'leaving' ? 0.5 : 1;
      ctx.drawImage(this.image(s.kind, s.frame), Math.round(s.x - SHOWN / 2), Math.round(s.y - SHOWN / 2), SHOWN, SHOWN);
    }
    ctx.globalAlpha = 1;
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top, t: e.timeStamp };
  }

  grab(e) {
    const p = this.point(e);
    for (let i = this.sprites.length - 1; i >= 0; i--) {
      const s = this.sprites[i];
      if (s.state !== 'free' || Math.abs(p.x - s.x) > SHOWN / 2 || Math.abs(p.y - s.y) > SHOWN / 2) continue;
      this.canvas.setPointerCapture(e.pointerId);
      s.state = 'held';
      s.vx = s.vy = 0;
      this.held = { sprite: s, dx: s.x - p.x, dy: s.y - p.y, samples: [p], pointer: e.pointerId };
      this.sprites.splice(i, 1);
      this.sprites.push(s);  // on top
      return;
    }
  }

  drag(e) {
    const held = this.held;
    if (!held || e.pointerId !== held.pointer) return;
    const p = this.point(e);
    const x = p.x + held.dx, y = p.y + held.dy;
    held.samples.push(p);
    while (held.samples.length > 2 && p.t - held.samples[0].t > FLING_WINDOW_MS) held.samples.shift();
    const over = x > this.width ? 'right' : x < 0 ? 'left' : y < 0 ? 'up' : y > this.height ? 'down' : null;
    if (over) {
      // Dragged over an edge: it goes, at least at the entry speed.
      this.letGo(held, over);
      held.sprite.x = over === 'left' || over === 'right' ? x : clamp(x, 0, this.width);
      held.sprite.y = over === 'up' || over === 'down' ? y : clamp(y, 0, this.height);
      if (this.canvas.hasPointerCapture(held.pointer)) this.canvas.releasePointerCapture(held.pointer);
      return;
    }
    held.sprite.x = x;
    held.sprite.y = y;
  }

  release(e) {
    const held = this.held;
    if (!held || e.pointerId !== held.pointer) return;
    this.drag(e);
    if (this.held === held) this.letGo(held, null);
  }

  // Frees the held sprite with the velocity of the last pointer moves
  // (outwards at least the entry speed when it was dragged over edge `over`).
  letGo(held, over) {
    this.held = null;
    const first = held.samples[0], last = held.samples[held.samples.length - 1];
    const dt = Math.max((last.t - first.t) / 1000, 1 / 120);
    let vx = (last.x - first.x) / dt, vy = (last.y - first.y) / dt;
    const speed = Math.hypot(vx, vy);
    if (speed > MAX_SPEED) {
      vx *= MAX_SPEED / speed;
      vy *= MAX_SPEED / speed;
    }
    if (over === 'right') vx = Math.max(vx, MIN_ENTRY_SPEED);
    if (over === 'left') vx = Math.min(vx, -MIN_ENTRY_SPEED);
    if (over === 'down') vy = Math.max(vy, MIN_ENTRY_SPEED);
    if (over === 'up') vy = Math.min(vy, -MIN_ENTRY_SPEED);
    Object.assign(held.sprite, { state: 'free', vx, vy });
  }
}
