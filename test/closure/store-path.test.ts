import { describe, expect, it } from 'vitest';
import {
  ClosureError,
  MAX_NAME_LENGTH,
  isStorePathBaseName,
  normalizeStoreDir,
  parseExactStorePath,
  parseStorePath,
} from '../../src/closure/index.js';

const HASH = '0c0dzg7sxxh2jg0ng3rmqpqbxxn8zzaq';

function errorOf(fn: () => unknown): ClosureError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ClosureError);
    return err as ClosureError;
  }
  throw new Error('expected a ClosureError');
}

describe('parseStorePath', () => {
  it('splits a store path into hash and name', () => {
    expect(parseStorePath(`/nix/store/${HASH}-hello-2.12.1`)).toEqual({
      storeDir: '/nix/store',
      hash: HASH,
      name: 'hello-2.12.1',
      baseName: `${HASH}-hello-2.12.1`,
      path: `/nix/store/${HASH}-hello-2.12.1`,
      rest: '',
    });
  });

  it('accepts a path below a store path and returns the rest', () => {
    const p = parseStorePath(`/nix/store/${HASH}-foo/bin/x`);
    expect(p.path).toBe(`/nix/store/${HASH}-foo`);
    expect(p.rest).toBe('/bin/x');
  });

  it('normalizes slashes and dots lexically', () => {
    expect(parseStorePath(`/nix//store/./${HASH}-foo/`).path).toBe(`/nix/store/${HASH}-foo`);
    expect(parseStorePath(`/nix/store/${HASH}-foo/bin/../lib`).rest).toBe('/lib');
    const e = errorOf(() => parseStorePath(`/nix/store/../etc/${HASH}-foo`));
    expect(e.code).toBe('NOT_A_STORE_PATH');
  });

  it('uses the store directory given', () => {
    const p = parseStorePath(`/tmp/s/store/${HASH}-x`, { storeDir: '/tmp/s/store/' });
    expect(p.storeDir).toBe('/tmp/s/store');
    expect(p.path).toBe(`/tmp/s/store/${HASH}-x`);
    expect(
      errorOf(() => parseStorePath(`/nix/store/${HASH}-x`, { storeDir: '/tmp/s' })).message,
    ).toBe(`not a store path: /nix/store/${HASH}-x (not under /tmp/s)`);
  });

  it('rejects paths outside the store with a message naming them', () => {
    const e = errorOf(() => parseStorePath('/usr/bin/x'));
    expect(e.code).toBe('NOT_A_STORE_PATH');
    expect(e.message).toBe('not a store path: /usr/bin/x (not under /nix/store)');
    expect(e.path).toBe('/usr/bin/x');
    expect(errorOf(() => parseStorePath('/nix/storefoo')).code).toBe('NOT_A_STORE_PATH');
    expect(errorOf(() => parseStorePath('/nix/store')).message).toMatch(/store directory itself/);
    expect(errorOf(() => parseStorePath(`nix/store/${HASH}-x`)).message).toMatch(/not an absolute/);
  });

  it('rejects bad hashes: letters outside nix base32, wrong length, no dash', () => {
    for (const bad of ['e', 'o', 'u', 't', 'A', '_']) {
      const hash = bad + HASH.slice(1);
      const e = errorOf(() => parseStorePath(`/nix/store/${hash}-foo`));
      expect(e.code).toBe('BAD_HASH');
      expect(e.message).toContain(`bad hash in /nix/store/${hash}-foo`);
      expect(e.message).toContain(JSON.stringify(bad));
    }
    expect(errorOf(() => parseStorePath(`/nix/store/${HASH.slice(1)}-foo`)).code).toBe('BAD_HASH');
    expect(errorOf(() => parseStorePath(`/nix/store/${HASH}xfoo`)).code).toBe('BAD_HASH');
    expect(errorOf(() => parseStorePath(`/nix/store/${HASH}`)).code).toBe('BAD_HASH');
    expect(errorOf(() => parseStorePath('/nix/store/short-foo')).message).toMatch(/too short/);
  });

  it('applies Nix name rules', () => {
    for (const name of ['a', 'A-Z_0.9+x?y=z', 'x'.repeat(MAX_NAME_LENGTH), 'foo..bar', '-x']) {
      expect(parseStorePath(`/nix/store/${HASH}-${name}`).name).toBe(name);
    }
    for (const name of ['', '.hidden', 'a b', 'ä', 'a:b', 'a~', 'x'.repeat(MAX_NAME_LENGTH + 1)]) {
      const e = errorOf(() => parseStorePath(`/nix/store/${HASH}-${name}`));
      expect(e.code).toBe('BAD_NAME');
      expect(e.message).toContain(`bad name in /nix/store/${HASH}-${name}`);
    }
  });

  it('parseExactStorePath refuses paths inside a store path', () => {
    expect(parseExactStorePath(`/nix/store/${HASH}-foo`).name).toBe('foo');
    const e = errorOf(() => parseExactStorePath(`/nix/store/${HASH}-foo/bin`));
    expect(e.message).toBe(
      `not a store path: /nix/store/${HASH}-foo/bin (it is inside /nix/store/${HASH}-foo)`,
    );
  });

  it('validates store directory names', () => {
    expect(normalizeStoreDir()).toBe('/nix/store');
    expect(normalizeStoreDir('/a//b/')).toBe('/a/b');
    expect(errorOf(() => normalizeStoreDir('/')).code).toBe('BAD_STORE_DIR');
    expect(errorOf(() => normalizeStoreDir('nix/store')).code).toBe('BAD_STORE_DIR');
  });

  it('isStorePathBaseName', () => {
    expect(isStorePathBaseName(`${HASH}-x`)).toBe(true);
    expect(isStorePathBaseName(`${HASH}-x.drv`)).toBe(true);
    expect(isStorePathBaseName('.links')).toBe(false);
    expect(isStorePathBaseName(`${HASH}-.x`)).toBe(false);
    expect(isStorePathBaseName(`${HASH}`)).toBe(false);
  });
});
