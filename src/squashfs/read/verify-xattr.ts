/**
 * Verifier checks of extended attributes (format page §11, §19.8): every xattr-id entry's list is
 * decoded from the key/value stream with exactly `count` pairs; key types must use prefix ids 0-2
 * (plus the out-of-line bit), out-of-line values must be 8-byte references that land on a value
 * record (an inline value of some list, or a stand-alone record outside every list), and lists of
 * different entries must not overlap (a count too large runs into the next list).
 */
import { METADATA_SIZE, XATTR_PREFIXES, XATTR_VALUE_OUT_OF_LINE } from '../format/constants.js';
import { getU64 } from '../io/bytes.js';
import type { MetaStream, VerifyContext } from './verify-metadata.js';
import type { LookupTableData } from './verify-tables.js';

/** Linux's XATTR_SIZE_MAX. */
const MAX_VALUE = 65536;

interface OutOfLine {
  ref: number;
  /** Absolute offset of the reference, for the report. */
  at: number;
  structure: string;
}

export async function verifyXattrs(
  ctx: VerifyContext,
  ids: LookupTableData,
  kv: MetaStream,
): Promise<number> {
  const p = ctx.p;
  const bytes = kv.bytes;
  const valueRecords = new Set<number>();
  const lists: { start: number; end: number; index: number }[] = [];
  const outOfLine: OutOfLine[] = [];
  const parsed = new Set<number>();
  const view = (s: number, n: number) => new DataView(bytes.buffer, bytes.byteOffset + s, n);
  let listsChecked = 0;
  for (let i = 0; i < ids.count; i++) {
    const e = i * 16;
    if (ids.stream.readable(e, 16) !== null) break;
    const entry = new DataView(ids.stream.bytes.buffer, ids.stream.bytes.byteOffset + e, 16);
    const structure = `xattr id ${i}`;
    let ref: number;
    try {
      ref = getU64(entry, 0);
    } catch {
      ref = -1;
    }
    const count = entry.getUint32(8, true);
    const stored = entry.getUint32(12, true);
    const s = ref < 0 || ref % 0x10000 >= METADATA_SIZE ? 'invalid reference' : kv.resolve(ref);
    if (typeof s === 'string') {
      p.error('xattr.ref', ids.stream.abs(e), structure, `reference 0x${ref.toString(16)}: ${s}`);
      continue;
    }
    if (parsed.has(s)) continue;
    parsed.add(s);
    listsChecked++;
    let pos = s;
    let mksquashfsSize = 0;
    let onDiskSize = 0;
    let broken = false;
    for (let k = 0; k < count && !broken; k++) {
      const keyAt = kv.abs(pos);
      const truncated = (what: string) => {
        p.error(
          'xattr.count',
          ids.stream.abs(e + 8),
          structure,
          `${what} of pair ${k} of ${count} runs past the key/value table (count too large?)`,
        );
        broken = true;
      };
      if (kv.readable(pos, 4) !== null) {
        truncated('the key');
        break;
      }
      const key = view(pos, 4);
      const type = key.getUint16(0, true);
      const nameLength = key.getUint16(2, true);
      const prefix = XATTR_PREFIXES[type & 0xff];
      if ((type & ~(0xff | XATTR_VALUE_OUT_OF_LINE)) !== 0) {
        p.error('xattr.type', keyAt, structure, `key ${k} has type 0x${type.toString(16)}`);
      } else if (prefix === undefined) {
        p.error(
          'xattr.prefix',
          keyAt,
          structure,
          `key ${k} has prefix id ${type & 0xff} (0 user., 1 trusted., 2 security.)`,
        );
      }
      if (kv.readable(pos + 4, nameLength + 4) !== null) {
        truncated('the name');
        break;
      }
      const valueAt = pos + 4 + nameLength;
      const size = view(valueAt, 4).getUint32(0, true);
      mksquashfsSize += (prefix?.length ?? 0) + nameLength + 1;
      onDiskSize += 4 + nameLength + 4;
      if ((type & XATTR_VALUE_OUT_OF_LINE) !== 0) {
        if (size !== 8 || kv.readable(valueAt + 4, 8) !== null) {
          p.error(
            'xattr.ool-ref',
            kv.abs(valueAt),
            structure,
            `key ${k} is out of line, but its value is ${size} bytes, not an 8-byte reference`,
          );
          if (kv.readable(valueAt + 4, size) !== null) {
            truncated('the value');
            break;
          }
          pos = valueAt + 4 + size;
          continue;
        }
        let target: number;
        try {
          target = getU64(view(valueAt + 4, 8), 0);
        } catch {
          target = -1;
        }
        outOfLine.push({
          ref: target,
          at: kv.abs(valueAt + 4),
          structure: `${structure} key ${k}`,
        });
        onDiskSize += 8;
        // The value's length counts in mksquashfs's size; it is added when the target is read.
        const t = target < 0 || target % 0x10000 >= METADATA_SIZE ? null : kv.resolve(target);
        if (typeof t === 'number' && kv.readable(t, 4) === null) {
          mksquashfsSize += view(t, 4).getUint32(0, true);
        }
        pos = valueAt + 12;
      } else {
        if (size > MAX_VALUE) {
          p.error(
            'xattr.value-size',
            kv.abs(valueAt),
            structure,
            `key ${k} has a ${size}-byte value (at most 65536)`,
          );
        }
        if (kv.readable(valueAt + 4, size) !== null) {
          truncated('the value');
          break;
        }
        valueRecords.add(valueAt);
        mksquashfsSize += size;
        onDiskSize += size;
        pos = valueAt + 4 + size;
      }
    }
    lists.push({ start: s, end: pos, index: i });
    if (!broken && stored !== mksquashfsSize && stored !== onDiskSize) {
      p.warn(
        'xattr.size',
        ids.stream.abs(e + 12),
        structure,
        `size ${stored} is neither mksquashfs's ${mksquashfsSize} (names + 1 + values) nor the on-disk ${onDiskSize}`,
      );
    }
  }
  // Lists must not share bytes.
  lists.sort((a, b) => a.start - b.start);
  for (let i = 1; i < lists.length; i++) {
    const a = lists[i - 1]!;
    const b = lists[i]!;
    if (b.start < a.end) {
      p.error(
        'xattr.count',
        ids.stream.abs(a.index * 16 + 8),
        `xattr id ${a.index}`,
        `its list runs ${a.end - b.start} bytes into the list of xattr id ${b.index} (count too large?)`,
      );
    }
  }
  const insideList = (s: number, e: number) => lists.some((l) => s < l.end && e > l.start);
  for (const o of outOfLine) {
    const t =
      o.ref < 0 || o.ref % 0x10000 >= METADATA_SIZE ? 'invalid reference' : kv.resolve(o.ref);
    let problem: string | null = typeof t === 'string' ? t : null;
    if (typeof t === 'number' && !valueRecords.has(t)) {
      const head = kv.readable(t, 4);
      if (head !== null) problem = head;
      else {
        const length = view(t, 4).getUint32(0, true);
        if (length > MAX_VALUE) problem = `the record there claims a ${length}-byte value`;
        else if (kv.readable(t + 4, length) !== null) problem = 'the value record there is cut off';
        else if (insideList(t, t + 4 + length)) {
          problem = 'it points inside a key list, not at a value record';
        }
      }
    }
    if (problem !== null) {
      p.error(
        'xattr.ool-ref',
        o.at,
        o.structure,
        `out-of-line reference 0x${o.ref.toString(16)}: ${problem}`,
      );
    }
  }
  return listsChecked;
}
