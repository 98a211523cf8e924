/**
 * `tsquashfs inspect IMAGE [--json]`: the superblock fields with their meaning, the compressor
 * options, and a byte map of the whole image (src/squashfs/read/byte-map.ts): every region with
 * its offset, length, kind and detail, adding up exactly to the file size, then the bytes per
 * kind and the problems found. Exit status 0, or 1 when a problem of severity "error" was found
 * (the map is printed either way) or the file is not a squashfs image at all.
 *
 * JSON output (`--json`), schema "tsquashfs-inspect/1" (also in docs/inspect-json.md). Fields are
 * only ever added within a schema version; a change of meaning gets a new version.
 *
 *   {
 *     "schema": "tsquashfs-inspect/1",
 *     "image": { "name": string, "size": number },          // path as given, file size in bytes
 *     "compression": string,                                 // "gzip", "xz", ... or "id N"
 *     "superblock": [                                        // the 19 fields in on-disk order
 *       { "name": string, "offset": number, "size": number, "value": number, "meaning": string }
 *     ],                                                     // u64 all-ones ("absent") is -1
 *     "compressorOptions": {
 *       "compressor": string, "present": boolean,            // present: an options block exists
 *       "payloadHex": string | null,
 *       "fields": [ { "name": string, "value": number | string, "meaning": string } ],
 *       "problems": [ string ]                               // defaults listed when not present
 *     },
 *     "regions": [                                           // sorted, contiguous, from 0 to size
 *       {
 *         "offset": number, "length": number,
 *         "kind": "superblock" | "compressor-options" | "data" | "fragment-block" |
 *                 "metadata-block" | "location-list" | "xattr-id-header" | "padding" |
 *                 "unaccounted" | "overlap",
 *         "detail": string,                                  // one line for people
 *         // by kind, only these optional fields:
 *         "table": "inode" | "directory" | "fragment" | "export" | "id" | "xattr-kv" | "xattr-id",
 *                                                            // metadata-block, location-list
 *         "index": number,                                   // metadata-block: block ordinal in
 *                                                            // its table; fragment-block: index
 *         "compressed": boolean,                             // metadata-block, fragment-block,
 *                                                            // compressor-options
 *         "uncompressedLength": number | null,               // metadata-block, fragment-block:
 *                                                            // decoded size (null: undecodable);
 *                                                            // data: file bytes the blocks hold
 *         "entries": number,                                 // location-list: u64 entries
 *         "owners": [ { "inode": number, "paths": [string], "firstBlock": number } ],
 *                                                            // data: >1 owner = shared blocks
 *         "blocks": number, "rawBlocks": number,             // data: blocks in the run, raw ones
 *         "files": number,                                   // fragment-block: files with a tail
 *         "zero": boolean,                                   // padding, unaccounted
 *         "claimants": [string]                              // overlap: details of the claimants
 *       }
 *     ],
 *     "summary": [ { "kind": string, "regions": number, "bytes": number } ],
 *     "problems": [ { "severity": "error" | "warning", "offset": number | null, "message": string } ]
 *   }
 */
import type { CliCommand, CliContext } from './context.js';
import { BufferedOutput, parseArgs, usageError } from './read-args.js';
import type { ImageMap } from '../squashfs/read/byte-map.js';

const USAGE = 'usage: tsquashfs inspect IMAGE [--json]';
const HELP = `${USAGE}

Shows the superblock fields with their meaning, the compressor options, and a map
of every byte of IMAGE: the superblock, options, each file's data blocks, each
fragment block, every metadata block of every table, the location lists and the
padding, with a summary of bytes per kind. Bytes no structure claims are listed
as "unaccounted", bytes two structures claim as "overlap".
  --json   the same as JSON (schema "tsquashfs-inspect/1", see docs/inspect-json.md)
Exit status: 0, or 1 if a problem of severity "error" was found.
`;

export const command: CliCommand = { name: 'inspect', run: runInspect };

export async function runInspect(argv: string[], ctx: CliContext): Promise<number> {
  const args = parseArgs(argv, ['--json'], USAGE);
  if (args.help) {
    ctx.stdout.write(HELP);
    return 0;
  }
  const [imagePath, ...extra] = args.positional;
  if (imagePath === undefined || extra.length > 0) throw usageError(USAGE);
  const { mapImage } = await import('../squashfs/read/byte-map.js');
  const map = await mapImage(imagePath);
  const out = new BufferedOutput(ctx.stdout);
  if (args.flags.has('--json')) await out.push(`${JSON.stringify(map, null, 2)}\n`);
  else for (const line of formatMap(map)) await out.push(`${line}\n`);
  await out.flush();
  return map.problems.some((p) => p.severity === 'error') ? 1 : 0;
}

function table(rows: string[][], rightAligned: number[] = []): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((row) =>
    row
      .map((c, i) =>
        i === row.length - 1
          ? c
          : rightAligned.includes(i)
            ? c.padStart(widths[i]!)
            : c.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd(),
  );
}

function showValue(name: string, value: number, size: number): string {
  if (value === -1 && size === 8) return '0xffffffffffffffff';
  if (name === 'magic' || name === 'flags') {
    return `0x${value.toString(16).padStart(size * 2, '0')}`;
  }
  return String(value);
}

/** The human report, one string per line. */
export function formatMap(map: ImageMap): string[] {
  const lines: string[] = [];
  lines.push(`${map.image.name}: ${map.image.size} bytes, squashfs 4.0, ${map.compression}`);
  lines.push('', 'Superblock');
  lines.push(
    ...table(
      [
        ['  field', 'offset', 'value', 'meaning'],
        ...map.superblock.map((f) => [
          `  ${f.name}`,
          `0x${f.offset.toString(16).padStart(2, '0')}`,
          showValue(f.name, f.value, f.size),
          f.meaning,
        ]),
      ],
      [2],
    ),
  );
  const o = map.compressorOptions;
  lines.push(
    '',
    `Compressor options (${o.compressor}): ${
      o.present ? `options block, payload ${o.payloadHex}` : 'no options block, defaults apply'
    }`,
  );
  if (o.fields.length > 0) {
    lines.push(...table(o.fields.map((f) => [`  ${f.name}`, String(f.value), f.meaning])));
  }
  lines.push('', `Regions (${map.regions.length})`);
  lines.push(
    ...table(
      [
        ['  offset', 'length', 'kind', 'detail'],
        ...map.regions.map((r) => [`  ${r.offset}`, String(r.length), r.kind, r.detail]),
      ],
      [0, 1],
    ),
  );
  lines.push('', 'Bytes per kind');
  const total = map.summary.reduce((s, k) => s + k.bytes, 0);
  const pct = (n: number) =>
    map.image.size === 0 ? '0.0' : ((100 * n) / map.image.size).toFixed(1);
  lines.push(
    ...table(
      [
        ['  kind', 'regions', 'bytes', '%'],
        ...map.summary.map((k) => [
          `  ${k.kind}`,
          String(k.regions),
          String(k.bytes),
          `${pct(k.bytes)}%`,
        ]),
        ['  total', String(map.regions.length), String(total), `${pct(total)}%`],
      ],
      [1, 2, 3],
    ),
  );
  if (map.problems.length === 0) lines.push('', 'Problems: none');
  else {
    lines.push('', `Problems (${map.problems.length})`);
    for (const p of map.problems) {
      lines.push(`  ${p.severity}${p.offset === null ? '' : ` at byte ${p.offset}`}: ${p.message}`);
    }
  }
  return lines;
}
