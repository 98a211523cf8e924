/**
 * The naming rules a portable-service image must follow for systemd to use it. Pure functions:
 * each returns a problem description, or undefined when the name is fine.
 *
 * From systemd's sources (src/portable/portable.c, portablectl.c, basic/unit-name.c):
 * - portablectl takes the unit prefix from the image file name: everything before the first
 *   '_' (or before ".raw"), which must consist of ASCII letters, digits, '-' and '.' and be a
 *   valid file name. So pname may not contain '_'; the version may (it follows the first '_').
 * - Only unit files whose suffix is .service, .socket, .target, .timer or .path are attached
 *   (`unit_match`); others in the image are ignored.
 * - A unit matches a prefix when it starts with it and the prefix is followed by '-', '.', '@'
 *   or the end of the name (`prefix_match`): for pname "demo", demo.service, demo-web.socket and
 *   demo@.service match, demoweb.service does not.
 * - A unit name must be valid (`unit_name_is_valid`): shorter than 256 bytes, letters, digits
 *   and ":-_.\" before the suffix, with at most one '@' starting an instance or template part.
 */

/** Suffixes of the unit files portablectl attaches. */
export const PORTABLE_UNIT_SUFFIXES: readonly string[] = [
  '.service',
  '.socket',
  '.target',
  '.timer',
  '.path',
];

/** Every unit type systemd knows: a name with another suffix is not a unit name at all. */
const UNIT_TYPES: readonly string[] = [
  'service',
  'mount',
  'swap',
  'socket',
  'target',
  'device',
  'automount',
  'timer',
  'path',
  'slice',
  'scope',
];

const UNIT_NAME_MAX = 256;
const FILE_NAME_MAX = 255;
const UNIT_NAME_CHARS = /^[A-Za-z0-9:\-_.\\@]*$/;
const PREFIX_CHARS = /^[A-Za-z0-9.-]+$/;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** True when the string survives a round trip through UTF-8 (no lone surrogates). */
function isWellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

/** The image file name nixpkgs gives: `<pname>_<version>.raw`. */
export function imageFileName(pname: string, version: string): string {
  return `${pname}_${version}.raw`;
}

export function pnameProblem(pname: string): string | undefined {
  if (pname === '') return 'pname is empty';
  if (!PREFIX_CHARS.test(pname)) {
    return (
      `pname "${pname}" may contain only ASCII letters, digits, '-' and '.': portablectl takes ` +
      `the unit prefix from the image name up to the first '_' and accepts nothing else`
    );
  }
  if (pname.startsWith('.')) {
    return `pname "${pname}" must not start with '.' (the image would be a hidden file)`;
  }
  return undefined;
}

export function versionProblem(version: string): string | undefined {
  if (version === '') return 'version is empty';
  if (version.includes('/')) return `version "${version}" must not contain '/'`;
  if (CONTROL_CHARS.test(version))
    return `version ${JSON.stringify(version)} has control characters`;
  if (!isWellFormed(version)) return 'version is not valid Unicode';
  return undefined;
}

/** Problems with the image name as a whole (after pname and version are each fine). */
export function imageNameProblem(pname: string, version: string): string | undefined {
  const name = imageFileName(pname, version);
  const bytes = Buffer.byteLength(name);
  if (bytes > FILE_NAME_MAX) {
    return `image name ${name} is ${bytes} bytes long; a file name has at most ${FILE_NAME_MAX}`;
  }
  return undefined;
}

/** Whether systemd would take `name` for a unit name (`unit_name_is_valid`, any form). */
export function isValidUnitName(name: string): boolean {
  if (name === '' || Buffer.byteLength(name) >= UNIT_NAME_MAX) return false;
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return false;
  if (!UNIT_TYPES.includes(name.slice(dot + 1))) return false;
  const stem = name.slice(0, dot);
  if (!UNIT_NAME_CHARS.test(stem)) return false;
  // A name may not start with '@'; a later '@' begins an instance (or, empty, a template).
  return stem.indexOf('@') !== 0;
}

/** systemd's prefix_match: the prefix followed by '-', '.', '@' or the end of the name. */
export function matchesPrefix(unit: string, prefix: string): boolean {
  if (!unit.startsWith(prefix)) return false;
  const next = unit.charAt(prefix.length);
  return next === '' || next === '-' || next === '.' || next === '@';
}

/** Why portablectl would not attach a unit file called `name` from an image of `pname`. */
export function unitNameProblem(name: string, pname: string): string | undefined {
  const suffixes = PORTABLE_UNIT_SUFFIXES.join(' ');
  if (!PORTABLE_UNIT_SUFFIXES.some((s) => name.endsWith(s))) {
    return `unit ${name} does not end in a suffix portablectl attaches (${suffixes})`;
  }
  if (!isValidUnitName(name)) {
    return (
      `unit ${name} is not a valid systemd unit name (letters, digits and ":-_.\\" before the ` +
      `suffix, at most one '@', shorter than ${UNIT_NAME_MAX} bytes)`
    );
  }
  if (!matchesPrefix(name, pname)) {
    return (
      `unit ${name} does not start with the service name "${pname}" followed by '.', '-' or '@'; ` +
      `systemd-portabled would ignore it`
    );
  }
  return undefined;
}

/**
 * A symlink location must be an absolute, normalised path below the root: no '.', '..' or
 * empty components and no trailing "/".
 */
export function symlinkPathProblem(link: string): string | undefined {
  if (!link.startsWith('/')) return `symlink "${link}" is not an absolute path`;
  if (link === '/') return 'symlink "/" would replace the root directory';
  const parts = link.slice(1).split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..') {
      return (
        `symlink "${link}" is not a normalised path (empty, '.' or '..' components` +
        `${part === '..' ? ' may escape the root' : ''})`
      );
    }
    if (part.includes('\0')) return `symlink ${JSON.stringify(link)} contains a NUL byte`;
    if (Buffer.byteLength(part) > FILE_NAME_MAX) {
      return `symlink "${link}" has a component longer than ${FILE_NAME_MAX} bytes`;
    }
  }
  if (!isWellFormed(link)) return 'a symlink path is not valid Unicode';
  return undefined;
}

/** True when `p` is `dir` or lies below it (both absolute and normalised). */
export function isAtOrBelow(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);
}
