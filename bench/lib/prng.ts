/**
 * A small deterministic PRNG (mulberry32) and the content generators the corpora and the scale
 * run share. The same seed gives the same bytes on every machine and Node version.
 */

export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.next() / 2 ** 32;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Fills `out` with incompressible bytes. */
  fill(out: Uint8Array): Uint8Array {
    let i = 0;
    for (; i + 4 <= out.length; i += 4) {
      const v = this.next();
      out[i] = v;
      out[i + 1] = v >>> 8;
      out[i + 2] = v >>> 16;
      out[i + 3] = v >>> 24;
    }
    for (; i < out.length; i++) out[i] = this.next();
    return out;
  }
}

const SYLLABLES = ['ka', 'lo', 'mi', 'nu', 'se', 'ta', 'ri', 'po', 'de', 'fu', 'gi', 'ba', 'zo'];
const PUNCT = ['', '', '', '', ',', '.', ';', '()', ' =', ' {', ' }'];

/** 512 pseudo-words, the same every time. */
const WORDS: string[] = (() => {
  const g = new Prng(0x5eed);
  const words: string[] = [];
  for (let i = 0; i < 512; i++) {
    let w = '';
    for (let n = 1 + g.int(4); n > 0; n--) w += SYLLABLES[g.int(SYLLABLES.length)];
    words.push(w);
  }
  return words;
})();

/** Fills `out` with text-like bytes: skewed word frequencies, punctuation, lines, indentation. */
export function fillText(g: Prng, out: Uint8Array): Uint8Array {
  let i = 0;
  let column = 0;
  while (i < out.length) {
    let token: string;
    if (column > 60 + g.int(30)) {
      token = '\n' + '  '.repeat(g.int(4));
      column = 0;
    } else {
      const r = g.float();
      token = WORDS[Math.floor(r * r * WORDS.length)]! + PUNCT[g.int(PUNCT.length)]! + ' ';
      column += token.length;
    }
    for (let k = 0; k < token.length && i < out.length; k++) out[i++] = token.charCodeAt(k);
  }
  return out;
}

/**
 * Fills `out` with structured binary data, like tables in an executable: little-endian records of
 * a small counter, a few flags and an occasional pointer-sized random value.
 */
export function fillStructured(g: Prng, out: Uint8Array): Uint8Array {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let counter = g.next();
  let i = 0;
  for (; i + 16 <= out.length; i += 16) {
    view.setUint32(i, counter, true);
    counter = (counter + 1 + g.int(3)) >>> 0;
    view.setUint32(i + 4, g.int(4) === 0 ? g.next() : 0x400000 + (counter & 0xfff) * 16, true);
    view.setUint32(i + 8, g.int(8), true);
    view.setUint32(i + 12, 0, true);
  }
  for (; i < out.length; i++) out[i] = 0;
  return out;
}
