/**
 * The image's /etc/os-release. nixpkgs writes it with `lib.generators.toKeyValue`: one `KEY=value`
 * line per key that is not null, keys in sorted order (attribute sets iterate sorted), values
 * unquoted. We keep the keys, the order and, where os-release(5) allows it, the bare values; a
 * value with anything but ASCII letters and digits is double-quoted with `"`, `\`, `$` and `` ` ``
 * escaped, as os-release(5) requires (nixpkgs would write it bare, which a shell misreads).
 *
 * We add PORTABLE_PREFIXES=<pname>: without it systemd-dissect does not count the image as a
 * portable service (portablectl still attaches it, taking the prefix from the file name).
 */
import { SquashfsError } from '../squashfs/errors.js';

export interface OsReleaseInput {
  pname: string;
  description?: string | null | undefined;
  homepage?: string | null | undefined;
}

const BARE_VALUE = /^[A-Za-z0-9]*$/;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** os-release(5) quoting: bare when only letters and digits, else double quotes with escapes. */
export function quoteOsReleaseValue(value: string): string {
  if (BARE_VALUE.test(value)) return value;
  return `"${value.replace(/["\\$`]/g, (c) => `\\${c}`)}"`;
}

/** The key/value pairs, sorted by key as nixpkgs' generator emits them. */
export function osReleaseFields(input: OsReleaseInput): Array<[string, string]> {
  const fields: Record<string, string | null | undefined> = {
    PORTABLE_ID: input.pname,
    PORTABLE_PREFIXES: input.pname,
    PORTABLE_PRETTY_NAME: input.description,
    HOME_URL: input.homepage,
    ID: 'nixos',
    PRETTY_NAME: 'NixOS',
    BUILD_ID: 'rolling',
  };
  const pairs: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue;
    if (CONTROL_CHARS.test(value)) {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `${key} value ${JSON.stringify(value)} has control characters (newlines, tabs...), ` +
          'which os-release cannot hold',
      );
    }
    pairs.push([key, value]);
  }
  // Sorted by code unit, like Nix's attribute names (all keys are ASCII).
  return pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export function osReleaseText(input: OsReleaseInput): string {
  return osReleaseFields(input)
    .map(([key, value]) => `${key}=${quoteOsReleaseValue(value)}\n`)
    .join('');
}
