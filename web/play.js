// The browser node page (/play?group=NAME): wires the relay session
// (node_session.js) to the screen (playfield.js) and to the page's controls.
//
// A thrown sprite is {"kind", "frame", "at", "vx", "vy"}: the character, the
// frame it showed, where along the edge it left (0..1, top to bottom or left
// to right) and its velocity in CSS pixels per second (docs/API.md, "The
// browser node"). Whatever arrives is checked and clamped before it is used:
// another client may send anything that is a JSON object.
//
// `window.play` exposes the page's state (session, field, what was thrown
// and what entered) for the browser tests and for anyone curious.

import { NodeSession } from './node_session.js';
import { Playfield, SHOWN, MAX_SPEED } from './playfield.js';
import { SPRITES, decode, spriteOf } from './sprites.js';
import { scale4x, SCALERS } from './scalers.js';

const DIRECTIONS = ['left', 'right', 'up', 'down'];
const SHELF_GAP = 8;

const params = new URLSearchParams(location.search);
const group = params.get('group') ?? '';
const name = params.get('name') || localStorage.getItem('sprites.name') || randomName();
const scalerAsked = params.get('scaler') || localStorage.getItem('sprites.scaler');

function randomName() {
  const first = ['brave', 'quiet', 'swift', 'lucky', 'sleepy', 'bright', 'tiny', 'odd'];
  const second = ['otter', 'comet', 'pixel', 'moth', 'fox', 'kettle', 'lynx', 'newt'];
  const pick = (a) => a[Math.floor(Math.random() * a.length)];
  return `${pick(first)}-${pick(second)}-${Math.floor(Math.random() * 90) + 10}`;
}

const $ = (id) => document.getElementById(id);
const play = { throws: [], entries: [], returned: [], notices: [], statuses: [], neighbors: null, position: null };
const remember = (list, item) => {
  list.push(item);
  if (list.length > 100) list.shift();  // a page may stay open for days
};
window.play = play;

// --- what arrives is hostile until checked ---------------------------------

function finite(v, fallback, lo, hi) {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback;
}

function saneSprite(s) {
  if (!s || typeof s !== 'object') return null;
  const kind = typeof s.kind === 'string' ? s.kind.slice(0, 32) : 'unknown';
  const frames = spriteOf(kind).frames.length;
  const frame = Number.isSafeInteger(s.frame) && s.frame >= 0 ? s.frame % frames : 0;
  return {
    kind,
    frame,
    at: finite(s.at, 0.5, 0, 1),
    vx: finite(s.vx, 0, -MAX_SPEED, MAX_SPEED),
    vy: finite(s.vy, 0, -MAX_SPEED, MAX_SPEED),
  };
}

const who = (p) => (p && typeof p === 'object' ? String(p.name || p.node || '?') : '?');

// --- the page ---------------------------------------------------------------

let noticeTimer = 0;
function notice(text) {
  remember(play.notices, text);
  const el = $('notice');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (el.hidden = true), 4000);
}

function status(text, level) {
  remember(play.statuses, text);
  const el = $('status');
  el.textContent = text;
  el.dataset.level = level;
}

function showNeighbors(position, neighbors) {
  if (!neighbors || typeof neighbors !== 'object') return;
  play.neighbors = neighbors;
  play.position = position;
  for (const d of DIRECTIONS) {
    const n = neighbors[d];
    const el = $(`edge-${d}`);
    const self = n && n.node === session.node;
    el.dataset.node = n && typeof n.node === 'string' ? n.node : '';
    el.querySelector('.who').textContent = self ? `${who(n)} (you)` : who(n);
    el.classList.toggle('self', !!self);
  }
  if (position && Number.isSafeInteger(position.row) && Number.isSafeInteger(position.col)) {
    $('place').textContent = `row ${position.row}, col ${position.col}`;
  }
}

function onEvent(ev) {
  if (ev.type === 'neighbors') {
    showNeighbors(ev.position, ev.neighbors);
    return;
  }
  if (ev.type !== 'sprite' && ev.type !== 'returned') return;
  const sprite = saneSprite(ev.sprite);
  if (!DIRECTIONS.includes(ev.direction) || !sprite) return;
  if (ev.type === 'sprite') {
    const s = field.enter(ev.direction, sprite);
    remember(play.entries, { from: ev.from, direction: ev.direction, id: ev.id, at: sprite.at, x: s.x, y: s.y, vx: s.vx, vy: s.vy });
  } else {
    const s = field.comeBack(ev.direction, sprite);
    remember(play.returned, { to: ev.to, direction: ev.direction, id: ev.id, x: s.x, y: s.y });
    notice(`${who(ev.to)} left before catching your ${sprite.kind}: it came back`);
  }
}

const WHY = {
  mailbox_full: 'their mailbox is full',
  rate_limited: 'too many throws, slow down',
  master_unavailable: 'the relay is busy',
  relay_unavailable: 'their relay cannot be reached',
  cluster_unavailable: 'the cluster cannot be reached',
  network: 'the worker port cannot be reached',
  not_joined: 'not joined yet',
};

let thrown = 0;
function onEdge(sprite, direction, at) {
  const payload = {
    kind: sprite.kind,
    frame: sprite.frame,
    at: Math.round(at * 10000) / 10000,
    vx: Math.round(sprite.vx * 10) / 10,
    vy: Math.round(sprite.vy * 10) / 10,
  };
  const id = `${session.node || 'x'}-${++thrown}`.slice(0, 64);
  session.throwSprite(direction, payload, id).then((r) => {
    remember(play.throws, { direction, id, ...payload, ...r });
    if (r.ok) {
      field.remove(sprite);
      return;
    }
    field.bounce(sprite, direction);
    notice(`bounced off the ${direction} edge: ${WHY[r.error] || r.message || 'refused'} (${r.status} ${r.error})`);
  });
}

function drawShelf() {
  const shelf = $('shelf');
  shelf.width = SPRITES.length * (SHOWN + SHELF_GAP) + SHELF_GAP;
  shelf.height = SHOWN + 2 * SHELF_GAP;
  const ctx = shelf.getContext('2d');
  SPRITES.forEach((sprite, i) => {
    const big = scale4x(decode(sprite, 0), field.scaler);
    ctx.putImageData(new ImageData(big.data, big.width, big.height), SHELF_GAP + i * (SHOWN + SHELF_GAP), SHELF_GAP);
  });
}

function setScaler(name) {
  field.setScaler(SCALERS[name] ? name : 'nearest');
  $('scaler').value = field.scaler;
  localStorage.setItem('sprites.scaler', field.scaler);
  drawShelf();
}

const field = new Playfield($('field'), { onEdge });
const session = new NodeSession({
  master: location.origin,
  group,
  name,
  on: {
    joined(answer) {
      $('node').textContent = answer.node;
      showNeighbors(answer.position, answer.neighbors);
    },
    event: onEvent,
    status,
  },
});
play.session = session;
play.field = field;

$('group').value = group;
$('name').value = name;
localStorage.setItem('sprites.name', name);
for (const input of [$('group'), $('name')]) {
  input.addEventListener('change', () => {
    const next = new URLSearchParams(location.search);
    next.set('group', $('group').value);
    next.set('name', $('name').value);
    location.search = next.toString();  // a new page joins; this one leaves on pagehide
  });
}
$('scaler').addEventListener('change', () => setScaler($('scaler').value));
$('shelf').addEventListener('click', (e) => {
  const i = Math.floor((e.offsetX - SHELF_GAP / 2) / (SHOWN + SHELF_GAP));
  if (i >= 0 && i < SPRITES.length) field.add({ kind: SPRITES[i].kind, x: field.width / 2, y: field.height / 2 });
});
addEventListener('resize', () => field.resize());
addEventListener('pagehide', () => session.leave());
addEventListener('pageshow', (e) => e.persisted && location.reload());  // back from the page cache: join anew

setScaler(scalerAsked);
field.add({ kind: SPRITES[0].kind, x: field.width / 2, y: field.height / 2 });

let last = performance.now();
function frame(now) {
  field.step(Math.min((now - last) / 1000, 0.05));
  field.draw();
  last = now;
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
session.start();
