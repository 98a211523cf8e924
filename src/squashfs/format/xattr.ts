/**
 * Extended attributes (format page §11). Key record: u16 type (prefix id 0 user, 1 trusted,
 * 2 security, OR 0x0100 when the value is out of line), u16 name length (without prefix), name.
 * Value record: u32 size, bytes. An out-of-line value is an 8-byte ref (relative to kv_start) to
 * a value record elsewhere in the stream.
 */
import { XATTR_PREFIXES } from './constants.js';

export const XATTR_KEY_HEADER_SIZE = 4;
export const XATTR_VALUE_HEADER_SIZE = 4;

/** Splits `user.foo` into prefix id 0 and `foo`; null for namespaces squashfs cannot store. */
export function splitXattrName(full: string): { prefixId: number; suffix: string } | null {
  for (let id = 0; id < XATTR_PREFIXES.length; id++) {
    const prefix = XATTR_PREFIXES[id]!;
    if (full.startsWith(prefix) && full.length > prefix.length) {
      return { prefixId: id, suffix: full.slice(prefix.length) };
    }
  }
  return null;
}
