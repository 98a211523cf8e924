/**
 * Options of the image writer. Each maps onto a mksquashfs flag (named in the comment); the CLI
 * turns mksquashfs's command line into this object, and library users set it directly.
 */
import type { CompressionOptions } from '../compress/compressor.js';

export interface WriteOptions {
  /** -comp and -X options. Default gzip level 9, window 15. */
  compression?: CompressionOptions;
  /** -b: 4096 … 1048576, a power of two. Default 131072. */
  blockSize?: number;
  /** -noI / -noInodeCompression: inode table stored raw. */
  uncompressedInodes?: boolean;
  /** -noD / -noDataCompression: data blocks stored raw. */
  uncompressedData?: boolean;
  /** -noF / -noFragmentCompression: fragment blocks stored raw. */
  uncompressedFragments?: boolean;
  /** -noX / -noXattrCompression: xattr tables stored raw. */
  uncompressedXattrs?: boolean;
  /** -noId / -noIdTableCompression: id table stored raw. */
  uncompressedIds?: boolean;
  /** -no-fragments ('never'), default ('small': files smaller than a block), -always-use-fragments ('always': every tail). */
  fragments?: 'never' | 'small' | 'always';
  /** -no-duplicates when false. */
  duplicates?: boolean;
  /** -no-sparse when false: all-zero blocks are then stored like any other. */
  sparse?: boolean;
  /** -no-xattrs when false (drops every xattr and sets the "no xattrs" flag). */
  xattrs?: boolean;
  /** -no-exports when false. */
  exports?: boolean;
  /** -mkfs-time: superblock time. Default 0 (tsquashfs never reads the clock). */
  mkfsTime?: number;
  /** -all-root / -force-uid / -force-gid: owner of every inode. */
  forceUid?: number;
  forceGid?: number;
  /** -all-time: every inode's mtime. */
  allTime?: number;
  /** SOURCE_DATE_EPOCH behaviour: clamp every inode's mtime to at most this. */
  clampTime?: number;
  /** -root-mode / -root-uid / -root-gid / -root-time: the root directory's own metadata. */
  rootMode?: number;
  rootUid?: number;
  rootGid?: number;
  rootTime?: number;
  /**
   * -processors: worker threads that compress data and fragment blocks. Default: one per core
   * (os.availableParallelism()). 0 compresses on the calling thread. The image is the same for
   * every count.
   */
  workers?: number;
  /**
   * When `output` is a path: return only once the image and its directory entry are on the disk
   * (fsync), so that it survives a power cut. Default false, like mksquashfs; the image appears
   * at the path by an atomic rename either way. See FileSinkOptions.durable.
   */
  durable?: boolean;
  /** Called as data is read (at least once per file and per 1 MiB chunk), for progress displays. */
  onProgress?: (progress: WriteProgress) => void;
  /**
   * Aborts the write (e.g. on Ctrl-C): the temporary file is removed and writeImage rejects
   * with the signal's reason. Checked before every block and between the tables.
   */
  signal?: AbortSignal;
}

export interface WriteProgress {
  filesDone: number;
  filesTotal: number;
  bytesRead: number;
  bytesTotal: number;
}

/** How many inodes of each kind a tree has, and how many extra names hard links add. */
export interface TreeCounts {
  files: number;
  directories: number;
  symlinks: number;
  devices: number;
  fifos: number;
  sockets: number;
  hardLinkedNames: number;
}

/** What the writer reports when it is done (the mksquashfs-like summary is printed from it). */
export interface WriteReport extends TreeCounts {
  imageSize: number; // bytes_used
  paddedSize: number; // file size after 4 KiB padding
  blockSize: number;
  compression: string;
  inodeCount: number;
  fragments: number;
  duplicateFiles: number;
  /** Data and fragment blocks handed to the compressor (duplicates and sparse blocks never are). */
  blocksCompressed: number;
  sparseBlocks: number;
  idCount: number;
  xattrSets: number;
  /** Uncompressed size of all file data. */
  dataBytes: number;
  /** Bytes taken on disk by data blocks and fragment blocks. */
  dataBytesOnDisk: number;
  inodeTableSize: number;
  directoryTableSize: number;
}
