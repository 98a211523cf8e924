import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { osReleaseText, quoteOsReleaseValue } from '../../src/layout/os-release.js';
import { SquashfsError } from '../../src/squashfs/errors.js';

describe('os-release', () => {
  it('has nixpkgs keys in sorted order, plus PORTABLE_PREFIXES', () => {
    expect(osReleaseText({ pname: 'demo' })).toBe(
      [
        'BUILD_ID=rolling',
        'ID=nixos',
        'PORTABLE_ID=demo',
        'PORTABLE_PREFIXES=demo',
        'PRETTY_NAME=NixOS',
        '',
      ].join('\n'),
    );
  });

  it('adds PORTABLE_PRETTY_NAME and HOME_URL only when given', () => {
    const text = osReleaseText({
      pname: 'demo',
      description: 'A demo service',
      homepage: 'https://example.org/demo',
    });
    expect(text).toBe(
      [
        'BUILD_ID=rolling',
        'HOME_URL="https://example.org/demo"',
        'ID=nixos',
        'PORTABLE_ID=demo',
        'PORTABLE_PREFIXES=demo',
        'PORTABLE_PRETTY_NAME="A demo service"',
        'PRETTY_NAME=NixOS',
        '',
      ].join('\n'),
    );
    expect(osReleaseText({ pname: 'demo', description: null, homepage: null })).not.toMatch(
      /PRETTY_NAME="|HOME_URL/,
    );
    // An empty string is a value, as in nixpkgs (only null is left out).
    expect(osReleaseText({ pname: 'demo', description: '' })).toContain('PORTABLE_PRETTY_NAME=\n');
  });

  it('quotes as os-release(5) requires', () => {
    expect(quoteOsReleaseValue('nixos')).toBe('nixos');
    expect(quoteOsReleaseValue('my-app')).toBe('"my-app"');
    expect(quoteOsReleaseValue('say "hi" $HOME `x` \\')).toBe(
      '"say \\"hi\\" \\$HOME \\`x\\` \\\\"',
    );
    expect(quoteOsReleaseValue("it's")).toBe('"it\'s"');
  });

  it('reads back through a shell as the original values', () => {
    const tricky = 'A "quoted" $VAR `cmd` back\\slash it\'s; & | < > * ? ~ #';
    const text = osReleaseText({
      pname: 'my-app.x',
      description: tricky,
      homepage: 'https://a/b?c=d&e',
    });
    const r = spawnSync(
      'sh',
      [
        '-c',
        'eval "$1"; printf "%s\\n%s\\n%s" "$PORTABLE_PRETTY_NAME" "$HOME_URL" "$PORTABLE_ID"',
        'sh',
        text,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${tricky}\nhttps://a/b?c=d&e\nmy-app.x`);
  });

  it('refuses control characters', () => {
    expect(() => osReleaseText({ pname: 'demo', description: 'two\nlines' })).toThrow(
      SquashfsError,
    );
    expect(() => osReleaseText({ pname: 'demo', homepage: 'tab\there' })).toThrow(
      /HOME_URL value .* control characters/,
    );
  });
});
