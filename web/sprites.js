// Sprites: the built-in pixel-art characters of the browser node.
//
// Each is 16x16 pixels drawn as rows of palette letters ('.' is transparent)
// and has a few frames that play in a loop. Frames are made from the first
// one by moving rows (a slime squashes and stretches) or by swapping letters
// (a star twinkles), so every frame stays the same drawing. A thrown sprite
// carries its kind and frame, and the receiving page goes on from there;
// a kind this page does not know is drawn as the "unknown" box.

const PALETTE = {
  k: [29, 26, 47],     // outline
  g: [78, 203, 113],   // slime green
  d: [47, 143, 78],    // slime shadow
  w: [255, 255, 255],
  e: [208, 212, 240],  // ghost shade
  b: [48, 96, 208],    // pupils
  y: [255, 210, 63],   // star
  l: [255, 243, 160],  // star, lit
  s: [168, 180, 200],  // robot steel
  c: [63, 224, 255],   // robot eyes
  r: [255, 77, 109],   // red
};

const SLIME = [
  '................',
  '................',
  '................',
  '................',
  '................',
  '......kkkk......',
  '....kkggggkk....',
  '...kgwwgggggk...',
  '..kgwwgggggggk..',
  '..kggggggggggk..',
  '.kgggkggggkgggk.',
  '.kgggkggggkgggk.',
  '.kggggggggggggk.',
  '.kdggggggggggdk.',
  '..kddddddddddk..',
  '...kkkkkkkkkk...',
];

const GHOST = [
  '................',
  '................',
  '......kkkk......',
  '....kkwwwwkk....',
  '...kwwwwwwwwk...',
  '..kwwwwwwwwwwk..',
  '..kwwkkwwkkwwk..',
  '..kwwkbwwkbwwk..',
  '.kwwwwwwwwwwwwk.',
  '.kwwwwwkkwwwwwk.',
  '.kwwwwwwwwwwwwk.',
  '.keeewwwwwwwwek.',
  '.keeeeewwweeeek.',
  '.keeeeeeeeeeeek.',
  '.kekkeekkeekkek.',
  '.kk..kk..kk..kk.',
];

const STAR = [
  '.......kk.......',
  '......kyyk......',
  '......kyyk......',
  '.....kyyyyk.....',
  'kkkkkkyyyykkkkkk',
  'kyyyyyyyyyyyyyyk',
  '.kyyykyyyykyyyk.',
  '..kyykyyyykyyk..',
  '...kyyyyyyyyk...',
  '...kyyyyyyyyk...',
  '..kyyyyyyyyyyk..',
  '..kyyyykkyyyyk..',
  '.kyyyk....kyyyk.',
  '.kyyk......kyyk.',
  'kyk..........kyk',
  'kk............kk',
];

const ROBOT = [
  '.......rr.......',
  '.......kk.......',
  '..kkkkkkkkkkkk..',
  '..kssssssssssk..',
  '..kscccsscccsk..',
  '..kscccsscccsk..',
  '..kssssssssssk..',
  '..kssrrrrrrssk..',
  '..kssssssssssk..',
  '..kkkkkkkkkkkk..',
  '....kssssssk....',
  '..kkksssssskkk..',
  '..kssssssssssk..',
  '..kssssssssssk..',
  '...kkk....kkk...',
  '..kkkk....kkkk..',
];

const UNKNOWN = [
  '................',
  '................',
  '..kkkkkkkkkkkk..',
  '..kwwwwwwwwwwk..',
  '..kwwwkkkkwwwk..',
  '..kwwkwwwwkwwk..',
  '..kwwwwwwwkwwk..',
  '..kwwwwwkkwwwk..',
  '..kwwwwkwwwwwk..',
  '..kwwwwkwwwwwk..',
  '..kwwwwwwwwwwk..',
  '..kwwwwkwwwwwk..',
  '..kwwwwwwwwwwk..',
  '..kkkkkkkkkkkk..',
  '................',
  '................',
];

// The rows of `rows` at the given indexes (a frame made by moving rows).
const pick = (rows, indexes) => indexes.map((i) => rows[i]);
// `rows` with letter `from` drawn as `to`.
const swap = (rows, from, to) => rows.map((r) => r.split(from).join(to));
// `rows` with some rows replaced.
const patch = (rows, changes) => rows.map((r, i) => changes[i] ?? r);

export const SPRITES = [
  {
    kind: 'slime',
    fps: 5,
    frames: [
      SLIME,
      pick(SLIME, [0, 0, 0, 0, 0, 0, 0, 5, 6, 7, 8, 10, 12, 13, 14, 15]),  // squashed
      SLIME,
      pick(SLIME, [0, 0, 0, 0, 5, 6, 7, 8, 9, 9, 10, 11, 12, 13, 14, 15]),  // stretched
    ],
  },
  {
    kind: 'ghost',
    fps: 3,
    frames: [
      GHOST,
      patch(pick(GHOST, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0]), {
        13: '.kkeekkeekkeekk.',
        14: '...kk..kk..kk...',
      }),
    ],
  },
  {
    kind: 'star',
    fps: 4,
    frames: [STAR, swap(STAR, 'y', 'l')],
  },
  {
    kind: 'robot',
    fps: 2,
    frames: [
      ROBOT,
      patch(ROBOT, { 0: '.......kk.......', 4: '..kssssssssssk..', 5: '..kskkksskkksk..' }),
    ],
  },
];

export const UNKNOWN_SPRITE = { kind: 'unknown', fps: 1, frames: [UNKNOWN] };

export const SPRITE_SIZE = 16;

export function spriteOf(kind) {
  return SPRITES.find((s) => s.kind === kind) || UNKNOWN_SPRITE;
}

// Frame `frame` of `sprite` as {width, height, data: RGBA bytes}.
export function decode(sprite, frame) {
  const rows = sprite.frames[frame % sprite.frames.length];
  const data = new Uint8ClampedArray(SPRITE_SIZE * SPRITE_SIZE * 4);
  rows.forEach((row, y) => {
    for (let x = 0; x < SPRITE_SIZE; x++) {
      const rgb = PALETTE[row[x]];
      if (!rgb) continue;
      const o = (y * SPRITE_SIZE + x) * 4;
      data.set(rgb, o);
      data[o + 3] = 255;
    }
  });
  return { width: SPRITE_SIZE, height: SPRITE_SIZE, data };
}
