/**
 * Scans host files into a Tree the way mksquashfs reads its sources (format page §15):
 * - lstat semantics: symlinks are stored, never followed (the one exception, the single source,
 *   is explained at `singleSourceRoot`);
 * - one directory source becomes the root; several sources, `keepAsDirectory` or a single
 *   non-directory source are gathered under a synthetic root, a repeated basename renamed
 *   `name_1`, `name_2`...;
 * - hard links are found by (device, inode) and become one node under several names;
 * - names stay raw bytes from readdir to the Tree, so non-UTF-8 names survive.
 * No file content is read here: each regular file gets a source that opens it when written.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { SquashfsError, ioError } from '../squashfs/errors.js';
import type { DirEntryNode, DirNode, NodeKind, NodeMeta, TreeNode } from '../squashfs/tree.js';
import { HostFileSource } from './host-file-source.js';
import { baseName, childPath, displayPath, hostPath, pathKey } from './host-paths.js';
import {
  deviceNumbers,
  fromNodeStats,
  mtimeSeconds,
  nodeKind,
  permissionBits,
  type HostStats,
} from './host-stat.js';
import { hostXattrReader, noXattrs, type XattrReader } from './host-xattrs.js';
import { directoryLister, listerBatches, type Listing } from './dir-listing.js';
import { mapLimited } from './map-limited.js';
import { ReadAheadBudget } from './read-ahead.js';
import { ReadBufferPool } from './read-buffers.js';
import { ScanWarnings, type Warn } from './scan-warnings.js';
import { Slots } from './slots.js';

export interface ScanOptions {
  /** mksquashfs -keep-as-directory: a single directory source is kept under its own name. */
  keepAsDirectory?: boolean;
  /**
   * mksquashfs -e: paths to leave out, each absolute or relative to a source ("dir/sub" leaves
   * out <source>/dir/sub for every source). Plain paths, no wildcards.
   */
  exclude?: string[];
  /** Read user., trusted. and security. xattrs from the host (default true). */
  xattrs?: boolean;
  /** Detect hard links by (device, inode) (default true; mksquashfs -no-hardlinks turns it off). */
  hardLinks?: boolean;
  /** The image being written: if it lies inside a source it is left out, as mksquashfs does. */
  outputPath?: string;
  /** Called for things skipped or changed on the way (default: ignored). */
  onWarning?: (message: string) => void;
}

/** Per-directory parallelism: enough to keep libuv's 4 threads busy, few open descriptors. */
const CONCURRENCY = 32;
/**
 * Directories listed (readdir and the lstat of each entry) at once across the whole scan.
 * Listing one after another left the main thread idle half the time on small-20000 (1 100
 * directories, two threadpool round trips each); each listing holds one descriptor.
 */
const LISTINGS = 8;
/**
 * With the addon's listDirs, listings asked for together share threadpool jobs, and each job
 * holds one descriptor at a time: more at once means fewer, fuller jobs.
 */
const BATCHED_LISTINGS = 64;

/**
 * Chunks that large files read ahead of the writer, all together: the three 1 MiB chunks a file
 * reads beyond the one the writer waits for (HostFileSource's MAX_CHUNKS_AHEAD of 4), and a
 * little more for the next file to start with.
 */
const READ_AHEAD_BYTES = 4 << 20;

/** squashfs stores name length - 1 in a u16 but the kernel refuses names over 256 bytes. */
const MAX_NAME_BYTES = 256;
/** mksquashfs gives the synthetic root mode 0777 unless -root-mode says otherwise. */
const SYNTHETIC_ROOT_MODE = 0o777;

export async function scanSources(sources: string[], options: ScanOptions = {}): Promise<DirNode> {
  if (sources.length === 0) throw new SquashfsError('INVALID_ARGUMENT', 'no source to scan');
  const scanner = new HostScanner(sources, options);
  await scanner.findOutput();
  return scanner.scan();
}

/** A directory entry whose subtree is scanned after its siblings (see `scanDirectory`). */
type ScannedEntry =
  | { name: Buffer; node: TreeNode }
  | { name: Buffer; subdirectory: { path: Buffer; stats: HostStats } };

type LeafKind = Exclude<NodeKind, 'dir'>;

type Awaitable<T> = T | Promise<T>;
/** Marks an entry whose node is made with reads (see HostScanner.needsIo). */
const WITH_IO = Symbol('with I/O');

class HostScanner {
  /** Held until the scan ends, then given in path order (see ScanWarnings). */
  private readonly warnings = new ScanWarnings();
  private readonly warn: Warn = this.warnings.add;
  private readonly xattrReader: XattrReader;
  private readonly excluded: Set<string>;
  /** Node promises by (dev, ino), set before the first await so a concurrent twin finds it. */
  private readonly links: Map<string, Awaitable<TreeNode>> | undefined;
  private readonly readsXattrs: boolean;
  /**
   * Read buffers shared by this scan's files, one file after another: kept with the tree, so
   * they go when it does. About the writer's read-ahead (16 MiB) plus what is in flight.
   */
  private readonly readBuffers = new ReadBufferPool(32 << 20);
  /** What large files may read ahead of the writer, together (read-ahead.ts). */
  private readonly readAhead = new ReadAheadBudget(READ_AHEAD_BYTES);
  private readonly listings = new Slots(listerBatches() ? BATCHED_LISTINGS : LISTINGS);
  private outputKey: string | undefined;
  /**
   * The output, if it already exists, by inode and size. The image is written beside it and
   * renamed over it at the end, so its size does not change during the scan, and comparing the
   * size first spares making the inode key (two BigInts and a string) of every file.
   */
  private output: { inode: string; size: number } | undefined;

  constructor(
    private readonly sources: string[],
    private readonly options: ScanOptions,
  ) {
    this.readsXattrs = options.xattrs !== false;
    this.xattrReader = this.readsXattrs ? hostXattrReader(this.warn) : noXattrs;
    this.excluded = excludedKeys(options.exclude ?? [], sources);
    this.links = options.hardLinks === false ? undefined : new Map();
  }

  /**
   * Remembers the output by path and, if it already exists, by inode: the path catches an image
   * not yet created, the inode catches one reached through another name.
   */
  async findOutput(): Promise<void> {
    const output = this.options.outputPath;
    if (output === undefined) return;
    this.outputKey = pathKey(hostPath(output));
    const stats = await fsp.stat(output, { bigint: true }).catch(() => undefined);
    if (stats?.isFile()) {
      const host = fromNodeStats(stats);
      this.output = { inode: host.inodeKey, size: host.size };
    }
  }

  async scan(): Promise<DirNode> {
    try {
      return (await this.singleSourceRoot()) ?? (await this.syntheticRoot());
    } finally {
      this.warnings.flush(this.options.onWarning ?? (() => {}));
    }
  }

  /**
   * mksquashfs decides with stat(), not lstat(), whether a lone source is a directory, so a
   * symlink to a directory (e.g. a Nix `result` link) has its target's contents as the root.
   */
  private async singleSourceRoot(): Promise<DirNode | undefined> {
    const [source] = this.sources;
    if (this.sources.length !== 1 || source === undefined || this.options.keepAsDirectory) {
      return undefined;
    }
    const sourcePath = hostPath(source);
    const stats = await statSource(sourcePath, true);
    return nodeKind(stats) === 'dir' ? this.scanDirectory(sourcePath, stats) : undefined;
  }

  /**
   * Owner is the user running the scan, as in mksquashfs. mksquashfs stamps the root with the
   * current time; we use the newest mtime among the sources instead, so that scanning the same
   * files twice gives the same tree (output must not depend on the clock).
   */
  private async syntheticRoot(): Promise<DirNode> {
    const entries: DirEntryNode[] = [];
    const taken = new Set<string>();
    let newest = 0;
    for (const source of this.sources) {
      const sourcePath = hostPath(source);
      if (this.isExcluded(sourcePath)) continue;
      const stats = await statSource(sourcePath, false);
      if (this.isOutput(stats)) continue;
      const node = await this.scanNode(sourcePath, stats);
      if (node === undefined) continue;
      entries.push({ name: this.sourceName(sourcePath, taken), node });
      newest = Math.max(newest, node.mtime);
    }
    return {
      kind: 'dir',
      entries,
      mode: SYNTHETIC_ROOT_MODE,
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      mtime: newest,
    };
  }

  /** The source's basename, or `name_N` with the first N that is still free, as mksquashfs. */
  private sourceName(sourcePath: Buffer, taken: Set<string>): Buffer {
    const base = baseName(sourcePath);
    if (base.length === 0) {
      throw new SquashfsError(
        'INVALID_ARGUMENT',
        `source ${displayPath(sourcePath)} has no name to store it under`,
        { path: displayPath(sourcePath) },
      );
    }
    let name = base;
    for (let n = 1; taken.has(pathKey(name)); n++) {
      name = Buffer.concat([base, Buffer.from(`_${n}`)]);
    }
    taken.add(pathKey(name));
    if (name !== base) {
      this.warn(`source ${displayPath(sourcePath)} stored as ${displayPath(name)}: name taken`);
    }
    checkNameLength(name, sourcePath);
    return name;
  }

  private async scanNode(nodePath: Buffer, stats: HostStats): Promise<TreeNode | undefined> {
    const kind = this.kindOrWarn(nodePath, stats);
    if (kind === undefined) return undefined;
    return kind === 'dir'
      ? this.scanDirectory(nodePath, stats)
      : this.linkedLeaf(nodePath, stats, kind);
  }

  /**
   * A directory is listed in one of the LISTINGS slots (with the addon, names and stats come in
   * one threadpool job); its entries are then looked at, CONCURRENCY at a time, and its
   * subdirectories scanned all at once, waiting for slots of their own. Descriptors stay bounded
   * by the slots, however deep or wide the tree. The first failure stops the scan: listings not
   * yet started fail with the same error, so it is the one reported.
   */
  private async scanDirectory(dirPath: Buffer, stats: HostStats): Promise<DirNode> {
    const { names, stats: known } = await this.listings.run(() =>
      listDirectory(dirPath, this.readsXattrs),
    );
    const meta = await this.meta(dirPath, stats, 'dir');
    // Most entries need nothing more read (stats from the listing, no symlink target, no
    // xattrs, or the listing says there are none): they are made at once, without a promise
    // each; the others CONCURRENCY at a time.
    const scanned = new Array<ScannedEntry | undefined>(names.length);
    const withIo: number[] = [];
    const started: Promise<void>[] = [];
    for (let i = 0; i < names.length; i++) {
      const entry = this.needsIo(known[i]) ? WITH_IO : this.scanEntry(dirPath, names[i]!, known[i]);
      if (entry === WITH_IO) withIo.push(i);
      else if (entry instanceof Promise) started.push(entry.then((e) => void (scanned[i] = e)));
      else scanned[i] = entry;
    }
    started.push(
      mapLimited(withIo, CONCURRENCY, async (i) => {
        scanned[i] = await this.scanEntry(dirPath, names[i]!, known[i]);
      }).then(() => undefined),
    );
    await Promise.all(started);
    const subtrees = scanned.map((entry) => {
      if (entry === undefined || 'node' in entry) return undefined;
      const subtree = this.scanDirectory(entry.subdirectory.path, entry.subdirectory.stats);
      subtree.catch((err: unknown) => this.listings.close(err));
      return subtree;
    });
    // Filled by index, not pushed onto a `[]`: V8 inlines a push as the array's elements kind
    // was when it optimized this function, and an empty literal starts out as small integers, so
    // the first object pushed then threw the optimized code away ("not a Smi"), and TurboFan
    // compiled this large function again (about 40 ms of the second core on small-20000).
    const entries = new Array<DirEntryNode>(scanned.length);
    let count = 0;
    for (let i = 0; i < scanned.length; i++) {
      const entry = scanned[i];
      if (entry === undefined) continue;
      const node = 'node' in entry ? entry.node : await subtrees[i]!;
      entries[count++] = { name: entry.name, node };
    }
    entries.length = count;
    return { kind: 'dir', entries, ...meta };
  }

  /** Whether making the entry's node reads anything (`known`: its stats from the listing). */
  private needsIo(known: HostStats | undefined): boolean {
    return known === undefined || this.wantsXattrs(known) || nodeKind(known) === 'symlink';
  }

  /** Whether xattrs are read for an inode with these stats. */
  private wantsXattrs(stats: HostStats): boolean {
    return this.readsXattrs && stats.hasXattrs !== false;
  }

  /**
   * `known`: the entry's lstat from the listing, if it has one. The result is a promise only
   * when something has to be read (see needsIo).
   */
  private scanEntry(
    dirPath: Buffer,
    name: Buffer,
    known: HostStats | undefined,
  ): Awaitable<ScannedEntry | undefined> {
    const entryPath = childPath(dirPath, name);
    checkNameLength(name, entryPath);
    if (this.isExcluded(entryPath)) return undefined;
    if (known === undefined) {
      return this.lstatEntry(entryPath).then((stats) =>
        stats === undefined ? undefined : this.statedEntry(name, entryPath, stats),
      );
    }
    return this.statedEntry(name, entryPath, known);
  }

  private statedEntry(
    name: Buffer,
    entryPath: Buffer,
    stats: HostStats,
  ): Awaitable<ScannedEntry | undefined> {
    if (this.isOutput(stats)) return undefined;
    const kind = this.kindOrWarn(entryPath, stats);
    if (kind === undefined) return undefined;
    if (kind === 'dir') return { name, subdirectory: { path: entryPath, stats } };
    const node = this.linkedLeaf(entryPath, stats, kind);
    return node instanceof Promise ? node.then((n) => ({ name, node: n })) : { name, node };
  }

  /** A file that vanished between readdir and lstat is skipped, as mksquashfs does. */
  private async lstatEntry(entryPath: Buffer): Promise<HostStats | undefined> {
    try {
      return fromNodeStats(await fsp.lstat(entryPath, { bigint: true }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw ioError(err, displayPath(entryPath), 'stat');
      }
      this.warn(`${displayPath(entryPath)} disappeared during the scan; skipped`, {
        path: entryPath,
      });
      return undefined;
    }
  }

  /**
   * Any non-directory with more than one link is looked up by (dev, ino). The map is filled
   * synchronously, before the node's own awaits, so a twin scanned concurrently gets the same
   * object. Links to names outside the scan are simply never met again.
   */
  private linkedLeaf(leafPath: Buffer, stats: HostStats, kind: LeafKind): Awaitable<TreeNode> {
    if (this.links === undefined || stats.nlink <= 1) return this.leaf(leafPath, stats, kind);
    const key = stats.inodeKey;
    let node = this.links.get(key);
    if (node === undefined) {
      node = this.leaf(leafPath, stats, kind);
      this.links.set(key, node);
    }
    return node;
  }

  private leaf(leafPath: Buffer, stats: HostStats, kind: LeafKind): Awaitable<TreeNode> {
    const meta = this.statMeta(leafPath, stats);
    if (kind === 'symlink' || this.wantsXattrs(stats)) {
      return this.leafWithIo(leafPath, stats, kind, meta);
    }
    return this.plainLeaf(leafPath, stats, kind, meta);
  }

  private async leafWithIo(
    leafPath: Buffer,
    stats: HostStats,
    kind: LeafKind,
    meta: NodeMeta,
  ): Promise<TreeNode> {
    await this.addXattrs(leafPath, stats, kind, meta);
    if (kind === 'symlink') return { kind, target: await readTarget(leafPath), ...meta };
    return this.plainLeaf(leafPath, stats, kind, meta);
  }

  private plainLeaf(
    leafPath: Buffer,
    stats: HostStats,
    kind: Exclude<LeafKind, 'symlink'>,
    meta: NodeMeta,
  ): TreeNode {
    switch (kind) {
      case 'file':
        return {
          kind,
          source: new HostFileSource(leafPath, stats, this.readBuffers, this.readAhead),
          ...meta,
        };
      case 'blockdev':
      case 'chardev':
        return { kind, ...deviceNumbers(stats.rdev), ...meta };
      case 'fifo':
      case 'socket':
        return { kind, ...meta };
    }
  }

  private async meta(nodePath: Buffer, stats: HostStats, kind: NodeKind): Promise<NodeMeta> {
    const meta = this.statMeta(nodePath, stats);
    await this.addXattrs(nodePath, stats, kind, meta);
    return meta;
  }

  /** Mode, owner and time, from the stats alone. */
  private statMeta(nodePath: Buffer, stats: HostStats): NodeMeta {
    const mtime = mtimeSeconds(stats);
    if (mtime.clamped) {
      this.warn(
        `${displayPath(nodePath)}: modification time does not fit squashfs (1970..2106); stored as ${mtime.seconds}`,
        { path: nodePath },
      );
    }
    return { mode: permissionBits(stats), uid: stats.uid, gid: stats.gid, mtime: mtime.seconds };
  }

  private async addXattrs(
    nodePath: Buffer,
    stats: HostStats,
    kind: NodeKind,
    meta: NodeMeta,
  ): Promise<void> {
    if (!this.wantsXattrs(stats)) return;
    const xattrs = await this.xattrReader.read(nodePath, kind);
    if (xattrs !== undefined) meta.xattrs = xattrs;
  }

  private kindOrWarn(nodePath: Buffer, stats: HostStats): NodeKind | undefined {
    const kind = nodeKind(stats);
    if (kind === undefined) {
      this.warn(`${displayPath(nodePath)}: file type squashfs cannot store; skipped`, {
        path: nodePath,
      });
    }
    return kind;
  }

  private isExcluded(nodePath: Buffer): boolean {
    const key = pathKey(nodePath);
    return this.excluded.has(key) || key === this.outputKey;
  }

  private isOutput(stats: HostStats): boolean {
    return (
      this.output !== undefined &&
      stats.size === this.output.size &&
      nodeKind(stats) === 'file' &&
      stats.inodeKey === this.output.inode
    );
  }
}

/** Every exclusion as the absolute path it names, keyed like `pathKey`. */
function excludedKeys(exclude: string[], sources: string[]): Set<string> {
  const keys = new Set<string>();
  for (const entry of exclude) {
    if (path.isAbsolute(entry)) {
      keys.add(pathKey(hostPath(entry)));
    } else {
      for (const source of sources) keys.add(pathKey(hostPath(entry, path.resolve(source))));
    }
  }
  return keys;
}

async function statSource(sourcePath: Buffer, follow: boolean): Promise<HostStats> {
  try {
    return fromNodeStats(
      follow
        ? await fsp.stat(sourcePath, { bigint: true })
        : await fsp.lstat(sourcePath, { bigint: true }),
    );
  } catch (err) {
    throw ioError(err, displayPath(sourcePath), 'read source');
  }
}

/** By the addon where it can; otherwise Node's readdir, the entries then stat'ed one by one. */
async function listDirectory(dirPath: Buffer, xattrs: boolean): Promise<Listing> {
  const listed = await directoryLister()?.(dirPath, xattrs);
  if (listed) return listed;
  try {
    return { names: await fsp.readdir(dirPath, { encoding: 'buffer' }), stats: [] };
  } catch (err) {
    throw ioError(err, displayPath(dirPath), 'read directory');
  }
}

async function readTarget(linkPath: Buffer): Promise<Buffer> {
  try {
    return await fsp.readlink(linkPath, { encoding: 'buffer' });
  } catch (err) {
    throw ioError(err, displayPath(linkPath), 'read symlink');
  }
}

function checkNameLength(name: Uint8Array, fullPath: Buffer): void {
  if (name.length <= MAX_NAME_BYTES) return;
  throw new SquashfsError(
    'LIMIT',
    `name too long for squashfs (${name.length} bytes, at most ${MAX_NAME_BYTES}): ${displayPath(fullPath)}`,
    { path: displayPath(fullPath) },
  );
}
