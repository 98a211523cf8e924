/**
 * Extended attributes (format page §11), laid out as mksquashfs lays them out:
 * - only user., trusted. and security. names are stored; others are dropped;
 * - each inode's list is sorted by full name (squashfs-tools 4.6+; 4.5.1 kept the host's listing
 *   order, which would make the image depend on the filesystem it was read from); identical
 *   lists share one xattr id;
 * - values longer than 128 bytes go out of line, written before the key list that uses them;
 * - a value of 8 bytes or more that equals an earlier value becomes a reference to that earlier
 *   value record instead of a second copy;
 * - the id record's size is Σ(full name length + 1 + value length).
 */
import type { Compressor } from '../compress/compressor.js';
import { NO_INDEX, XATTR_VALUE_OUT_OF_LINE } from '../format/constants.js';
import { encodeXattrIdEntry, type XattrIdEntry } from '../format/tables.js';
import { splitXattrName } from '../format/xattr.js';
import { ByteBuilder } from '../io/bytes.js';
import type { Xattr } from '../tree.js';
import { MetadataWriter } from './metadata-writer.js';

const OUT_OF_LINE_THRESHOLD = 128;
const SHARE_MIN = 8;

export class XattrWriter {
  readonly kv: MetadataWriter;
  readonly ids: XattrIdEntry[] = [];
  private readonly sets = new Map<string, number>();
  /** Earlier value records by content, for sharing. */
  private readonly values = new Map<string, number>();

  constructor(compressor: Compressor | null) {
    this.kv = new MetadataWriter(compressor);
  }

  /** Returns the xattr index for this set, or NO_INDEX if nothing storable is in it. */
  add(xattrs: Xattr[] | undefined): number {
    if (!xattrs || xattrs.length === 0) return NO_INDEX;
    const list = xattrs
      .map((x) => ({ x, split: splitXattrName(x.name) }))
      .filter((e) => e.split !== null)
      .sort((a, b) => Buffer.compare(Buffer.from(a.x.name), Buffer.from(b.x.name)));
    if (list.length === 0) return NO_INDEX;
    const key = list
      .map((e) => `${e.x.name}\0${Buffer.from(e.x.value).toString('latin1')}`)
      .join('\0\0');
    const known = this.sets.get(key);
    if (known !== undefined) return known;

    // Out-of-line values first: the key list refers back to them.
    const outOfLine = list.map((e) => {
      const v = e.x.value;
      if (v.length > OUT_OF_LINE_THRESHOLD) return this.valueRecord(v);
      if (v.length >= SHARE_MIN) return this.values.get(valueKey(v)) ?? null;
      return null;
    });

    const ref = this.kv.nextRef();
    let size = 0;
    const rec = new ByteBuilder();
    list.forEach((e, i) => {
      const { prefixId, suffix } = e.split!;
      const name = Buffer.from(suffix, 'utf8');
      const ool = outOfLine[i] ?? null;
      rec.reset();
      rec
        .u16(prefixId | (ool !== null ? XATTR_VALUE_OUT_OF_LINE : 0))
        .u16(name.length)
        .bytes(name);
      this.kv.append(rec.peek());
      if (ool !== null) {
        rec.reset();
        rec.u32(8).u64(ool);
        this.kv.append(rec.peek());
      } else {
        this.writeValue(e.x.value);
      }
      size += Buffer.byteLength(e.x.name) + 1 + e.x.value.length;
    });
    const index = this.ids.length;
    this.ids.push({ ref, count: list.length, size });
    this.sets.set(key, index);
    return index;
  }

  /** Reuses an identical earlier value record, or writes a new one; returns its ref. */
  private valueRecord(value: Uint8Array): number {
    return this.values.get(valueKey(value)) ?? this.writeValue(value);
  }

  private writeValue(value: Uint8Array): number {
    const ref = this.kv.nextRef();
    const rec = new ByteBuilder(value.length + 4);
    rec.u32(value.length).bytes(value);
    this.kv.append(rec.peek());
    const k = valueKey(value);
    if (value.length >= SHARE_MIN && !this.values.has(k)) this.values.set(k, ref);
    return ref;
  }

  idRecords(): Uint8Array {
    const out = new ByteBuilder(this.ids.length * 16);
    for (const e of this.ids) encodeXattrIdEntry(out, e);
    return out.toBytes();
  }
}

function valueKey(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
}
