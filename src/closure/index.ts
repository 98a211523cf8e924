/**
 * The Nix store, without squashfs: store path parsing, reference scanning, closures, and
 * closures given explicitly (closureInfo, path lists).
 */
export { ClosureError, type ClosureErrorCode } from './errors.js';
export {
  DEFAULT_STORE_DIR,
  HASH_LENGTH,
  MAX_NAME_LENGTH,
  NIX_BASE32_CHARS,
  isStorePathBaseName,
  normalizeStoreDir,
  parseExactStorePath,
  parseStorePath,
  parseStorePathBaseName,
  type ParsedStorePath,
  type StoreDirOption,
  type StorePath,
} from './store-path.js';
export {
  HashSet,
  SCAN_CHUNK_SIZE,
  StreamScanner,
  scanPath,
  searchHashes,
  type ScanOptions,
} from './scanner.js';
export {
  computeClosure,
  followLinksToStorePath,
  hostPath,
  indexStore,
  scanReferences,
  type Closure,
  type ClosureOptions,
  type StoreIndex,
  type StoreLocation,
} from './closure.js';
export { nixStoreOrder } from './order.js';
export { parsePathList, readClosureInfo, readPathList } from './path-list.js';
