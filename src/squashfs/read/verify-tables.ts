/**
 * Verifier checks of the lookup tables and of where every table sits (format page §10, §14,
 * §19.3): location lists inside the image, increasing, at most 8194 bytes apart, the blocks right
 * before their list; the exact-end rules (ID list ends at kv_start or bytes_used, export list at
 * the first ID block, xattr-id list at bytes_used); inode < directory ≤ next table; and every
 * block's header and decoded size. Returns the decoded tables for the later passes.
 */
import { METADATA_SIZE } from '../format/constants.js';
import { SUPERBLOCK_SIZE } from '../format/superblock.js';
import {
  EXPORT_ENTRY_SIZE,
  FRAGMENT_ENTRY_SIZE,
  ID_ENTRY_SIZE,
  XATTR_ID_ENTRY_SIZE,
  XATTR_ID_HEADER_SIZE,
} from '../format/tables.js';
import { getU64 } from '../io/bytes.js';
import {
  checkBlockSizes,
  MetaStream,
  readMetaBlock,
  type VerifyContext,
} from './verify-metadata.js';

export interface LookupTableData {
  key: string;
  name: string;
  listStart: number;
  count: number;
  entrySize: number;
  /** Location list entries (absolute block positions); empty if the list was unreadable. */
  locations: number[];
  /** The table's records; `complete` when it holds all count × entrySize bytes. */
  stream: MetaStream;
  complete: boolean;
}

export interface Tables {
  ids: LookupTableData;
  exports: LookupTableData | null;
  fragments: LookupTableData | null;
  xattrIds: LookupTableData | null;
  /** From the xattr-id header; null without xattrs or if the header is unusable. */
  kvStart: number | null;
  /** Where the directory table must end: the first block of the next table. */
  directoryTableEnd: number;
  /** Where the xattr key/value blocks must end: the first xattr-id block. */
  kvEnd: number | null;
}

const MAX_GAP = METADATA_SIZE + 2;

async function readLookupTable(
  ctx: VerifyContext,
  key: string,
  name: string,
  listStart: number,
  count: number,
  entrySize: number,
  kernelChecked: boolean,
  /** Where the blocks must end: the list, or the xattr-id header before it. */
  blocksEnd = listStart,
): Promise<LookupTableData> {
  const p = ctx.p;
  const stream = new MetaStream(name, 0);
  const table: LookupTableData = {
    key,
    name,
    listStart,
    count,
    entrySize,
    locations: [],
    stream,
    complete: false,
  };
  const blocks = Math.ceil((count * entrySize) / METADATA_SIZE);
  const listEnd = listStart + blocks * 8;
  const structure = `${name} location list at ${listStart}`;
  if (listStart < SUPERBLOCK_SIZE || listEnd > ctx.limit) {
    p.error(
      `table.${key}.list`,
      listStart,
      structure,
      `the ${blocks}-entry list (${count} records) does not fit between ${SUPERBLOCK_SIZE} and bytes_used ${ctx.limit}`,
    );
    stream.finish();
    return table;
  }
  const raw = await ctx.source.read(listStart, blocks * 8, `${name} location list`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const severity = kernelChecked ? 'error' : 'warning';
  const report = (rule: string, at: number, message: string) =>
    severity === 'error'
      ? p.error(rule, at, structure, message)
      : p.warn(rule, at, structure, message);
  let previous = -1;
  for (let i = 0; i < blocks; i++) {
    const at = listStart + i * 8;
    let loc: number;
    try {
      loc = getU64(view, i * 8);
    } catch {
      loc = -1;
    }
    table.locations.push(loc);
    if (loc < SUPERBLOCK_SIZE || loc >= blocksEnd) {
      p.error(
        `table.${key}.locations`,
        at,
        structure,
        `entry ${i} points at ${loc}, not between ${SUPERBLOCK_SIZE} and ${blocksEnd}`,
      );
      stream.add(loc, 0, false, null);
      previous = -1;
      continue;
    }
    if (previous >= 0 && (loc <= previous || loc - previous > MAX_GAP)) {
      report(
        `table.${key}.locations`,
        at,
        `entry ${i} (${loc}) is not 1..8194 bytes after entry ${i - 1} (${previous})`,
      );
    }
    previous = loc;
    const block = await readMetaBlock(ctx, loc, blocksEnd, name);
    if (block === null) {
      stream.add(loc, 0, false, null);
      continue;
    }
    stream.add(loc, block.onDisk, block.raw, block.data);
    const blockEnd = loc + 2 + block.onDisk;
    if (i + 1 < blocks) {
      let next = -1;
      try {
        next = getU64(view, (i + 1) * 8);
      } catch {
        // reported on the next pass
      }
      if (next !== blockEnd && next >= 0) {
        p.warn(
          `table.${key}.layout`,
          at + 8,
          structure,
          `block ${i + 1} is at ${next}, not right after block ${i} (which ends at ${blockEnd})`,
        );
      }
    } else if (blockEnd !== blocksEnd) {
      if (!kernelChecked || listStart - loc <= MAX_GAP) {
        p.warn(
          `table.${key}.layout`,
          at,
          structure,
          `the last block ends at ${blockEnd}, not right before ${blocksEnd === listStart ? 'the list' : 'the header'} at ${blocksEnd}`,
        );
      } else {
        p.error(
          `table.${key}.placement`,
          listStart,
          structure,
          `the last block (at ${loc}) is more than 8194 bytes before the list: the blocks must sit right before it`,
        );
      }
    }
  }
  if (!kernelChecked && blocks > 0 && table.locations[0]! >= blocksEnd) {
    p.error(
      `table.${key}.placement`,
      listStart,
      structure,
      'the first block is not before the list',
    );
  }
  stream.finish();
  checkBlockSizes(ctx, stream);
  const need = count * entrySize;
  table.complete = stream.length >= need && stream.blocks.every((b) => b.ok);
  if (stream.blocks.every((b) => b.ok) && stream.length !== need) {
    const message = `the blocks hold ${stream.length} bytes, ${count} records need exactly ${need}`;
    if (stream.length < need) p.error(`table.${key}.length`, listStart, structure, message);
    else p.warn(`table.${key}.length`, listStart, structure, message);
  }
  return table;
}

export async function verifyTables(ctx: VerifyContext, dataStart: number): Promise<Tables> {
  const { sb, p } = ctx;
  // Xattr-id header first: kv_start decides where the ID list must end.
  let xattrIds: LookupTableData | null = null;
  let kvStart: number | null = null;
  if (sb.xattrIdTableStart !== -1) {
    const at = sb.xattrIdTableStart;
    const structure = `xattr id table header at ${at}`;
    if (at + XATTR_ID_HEADER_SIZE > ctx.limit) {
      p.error('table.xattr.list', at, structure, 'the 16-byte header runs past bytes_used');
    } else {
      const raw = await ctx.source.read(at, XATTR_ID_HEADER_SIZE, 'xattr id table header');
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      let kv = -1;
      try {
        kv = getU64(view, 0);
      } catch {
        // below
      }
      const count = view.getUint32(8, true);
      if (view.getUint32(12, true) !== 0) {
        p.warn('table.xattr.unused', at + 12, structure, 'the unused field is not 0');
      }
      if (count === 0) {
        p.error('table.xattr.count', at + 8, structure, 'count is 0 (at least 1 if present)');
      }
      if (kv < dataStart || kv >= at) {
        p.error(
          'table.xattr.kv-start',
          at,
          structure,
          `kv_start ${kv} is not between the data area (${dataStart}) and the header`,
        );
      } else kvStart = kv;
      xattrIds = await readLookupTable(
        ctx,
        'xattr',
        'xattr id table',
        at + XATTR_ID_HEADER_SIZE,
        count,
        XATTR_ID_ENTRY_SIZE,
        true,
        at,
      );
      const listEnd = xattrIds.listStart + xattrIds.locations.length * 8;
      if (xattrIds.locations.length > 0 && listEnd !== sb.bytesUsed) {
        p.error(
          'table.xattr.placement',
          xattrIds.listStart,
          structure,
          `the xattr id location list ends at ${listEnd}, not exactly at bytes_used ${sb.bytesUsed}`,
        );
      }
      const first = xattrIds.locations[0];
      if (kvStart !== null && first !== undefined && kvStart >= first) {
        p.error(
          'table.xattr.kv-start',
          at,
          structure,
          `kv_start ${kvStart} is not before the first xattr id block at ${first}`,
        );
      }
    }
  }

  const ids = await readLookupTable(
    ctx,
    'id',
    'id table',
    sb.idTableStart,
    sb.idCount,
    ID_ENTRY_SIZE,
    true,
  );
  const idEnd = ids.listStart + ids.locations.length * 8;
  const idMustEnd = sb.xattrIdTableStart !== -1 ? kvStart : sb.bytesUsed;
  if (ids.locations.length > 0 && idMustEnd !== null && idEnd !== idMustEnd) {
    p.error(
      'table.id.placement',
      ids.listStart,
      `id table location list at ${ids.listStart}`,
      `the id location list ends at ${idEnd}, not exactly at ${
        sb.xattrIdTableStart !== -1 ? `kv_start ${idMustEnd}` : `bytes_used ${idMustEnd}`
      } (the kernel refuses to mount)`,
    );
  }

  let exports: LookupTableData | null = null;
  if (sb.exportTableStart !== -1) {
    exports = await readLookupTable(
      ctx,
      'export',
      'export table',
      sb.exportTableStart,
      sb.inodeCount,
      EXPORT_ENTRY_SIZE,
      true,
    );
    const end = exports.listStart + exports.locations.length * 8;
    const firstId = ids.locations[0];
    if (exports.locations.length > 0 && firstId !== undefined && end !== firstId) {
      p.error(
        'table.export.placement',
        exports.listStart,
        `export table location list at ${exports.listStart}`,
        `the export location list ends at ${end}, not exactly at the first id block ${firstId} (the kernel refuses to mount)`,
      );
    }
  }

  let fragments: LookupTableData | null = null;
  const nextAfterFragments = exports?.locations[0] ?? ids.locations[0] ?? sb.idTableStart;
  if (sb.fragmentCount > 0) {
    fragments = await readLookupTable(
      ctx,
      'fragment',
      'fragment table',
      sb.fragmentTableStart,
      sb.fragmentCount,
      FRAGMENT_ENTRY_SIZE,
      false,
    );
    const end = fragments.listStart + fragments.locations.length * 8;
    if (fragments.locations.length > 0 && end > nextAfterFragments) {
      p.error(
        'table.fragment.placement',
        fragments.listStart,
        `fragment table location list at ${fragments.listStart}`,
        `the fragment location list ends at ${end}, past the next table's first block at ${nextAfterFragments}`,
      );
    }
  }

  // Region order: data < inode table < directory table <= next table.
  const directoryTableEnd = fragments?.locations[0] ?? nextAfterFragments;
  if (sb.inodeTableStart < dataStart) {
    p.error(
      'table.order',
      0x40,
      'superblock',
      `inode_table_start ${sb.inodeTableStart} is inside the superblock or options block (ending at ${dataStart})`,
    );
  }
  if (sb.inodeTableStart >= sb.directoryTableStart) {
    p.error(
      'table.order',
      0x40,
      'superblock',
      `inode_table_start ${sb.inodeTableStart} is not before directory_table_start ${sb.directoryTableStart}`,
    );
  }
  if (sb.directoryTableStart > directoryTableEnd) {
    p.error(
      'table.order',
      0x48,
      'superblock',
      `directory_table_start ${sb.directoryTableStart} is past the next table's first block at ${directoryTableEnd}`,
    );
  }
  const kvEnd = xattrIds?.locations[0] ?? null;
  return { ids, exports, fragments, xattrIds, kvStart, directoryTableEnd, kvEnd };
}
