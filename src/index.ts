/**
 * tsquashfs public API. The CLI uses only what is exported here.
 */
export { writeImage, checkBlockSize } from './squashfs/write/image-writer.js';
export type { WriteOptions, WriteReport, WriteProgress } from './squashfs/write/options.js';
export type {
  CompressionOptions,
  GzipOptions,
  XzOptions,
  NoneOptions,
  GzipStrategy,
  BcjFilter,
} from './squashfs/compress/compressor.js';
export { tree, bytesSource, zeroSource, nameBytes } from './squashfs/tree.js';
export type {
  TreeNode,
  DirNode,
  FileNode,
  SymlinkNode,
  DeviceNode,
  IpcNode,
  FileSource,
  PendingBytes,
  Xattr,
  NodeMeta,
} from './squashfs/tree.js';
export { FileSink, MemorySink, StreamSink } from './squashfs/io/sink.js';
export type { FileSinkOptions, Sink } from './squashfs/io/sink.js';
export { SquashfsError } from './squashfs/errors.js';
export type { SquashfsErrorCode } from './squashfs/errors.js';
export { describeRegions } from './squashfs/read/regions.js';
export type { Region } from './squashfs/read/regions.js';
export { openImage, SquashfsImage } from './squashfs/read/image.js';
export type { DirectoryEntry, WalkEntry, ReadInode } from './squashfs/read/image.js';
export { extractImage } from './squashfs/read/extract.js';
export type { ExtractOptions, ExtractReport } from './squashfs/read/extract.js';
export {
  ClosureError,
  computeClosure,
  followLinksToStorePath,
  parseStorePath,
  parseExactStorePath,
  normalizeStoreDir,
  DEFAULT_STORE_DIR,
  readClosureInfo,
  readPathList,
  nixStoreOrder,
} from './closure/index.js';
export type {
  ClosureErrorCode,
  Closure,
  ClosureOptions,
  StoreLocation,
  StorePath,
  ParsedStorePath,
} from './closure/index.js';
export { buildPortableService } from './layout/portable.js';
export type { PortableServiceReport, PortableBuildHooks } from './layout/portable.js';
export type { PortableServiceOptions, PortableSymlink } from './layout/portable-options.js';
export { scanSources } from './layout/host-scan.js';
export type { ScanOptions } from './layout/host-scan.js';
export { mapImage } from './squashfs/read/byte-map.js';
export { verifyImage } from './squashfs/read/verify.js';
