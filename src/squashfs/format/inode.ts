/**
 * Inodes (format page §8). Every inode starts with a 16-byte header (type, permission bits,
 * uid/gid indices into the ID table, mtime, inode number); the rest depends on the type.
 * Extended type = basic + 7. `mode` never holds S_IFMT bits: the kernel derives them from `type`.
 * Records are unaligned and may straddle metadata blocks.
 */
import { ByteBuilder, ByteReader } from '../io/bytes.js';
import { InodeType, NO_INDEX } from './constants.js';
import { SquashfsError } from '../errors.js';

export interface InodeHeader {
  type: number; // 0 u16
  mode: number; // 2 u16, permission bits only
  uidIndex: number; // 4 u16
  gidIndex: number; // 6 u16
  mtime: number; // 8 u32
  inodeNumber: number; // 12 u32
}

/** One directory-index entry (§9.5), stored after an extended directory inode. */
export interface DirIndexEntry {
  index: number; // 0 u32 byte offset of a run header in the listing (without the +3)
  start: number; // 4 u32 dir-table block holding that header
  name: Uint8Array; // 8 u32 length-1, then 12 name bytes
}

export interface DirInode extends InodeHeader {
  kind: 'dir';
  startBlock: number;
  nlink: number;
  fileSize: number; // listing bytes + 3
  offset: number;
  parentInode: number;
  /** Extended directory only. */
  xattr: number;
  index: DirIndexEntry[];
}

export interface FileInode extends InodeHeader {
  kind: 'file';
  blocksStart: number;
  fragment: number; // NO_INDEX if none
  fragmentOffset: number;
  fileSize: number;
  /** Extended file only. */
  sparse: number;
  nlink: number;
  xattr: number;
  blockSizes: Uint32Array | number[];
}

export interface SymlinkInode extends InodeHeader {
  kind: 'symlink';
  nlink: number;
  target: Uint8Array;
  xattr: number;
}

export interface DeviceInode extends InodeHeader {
  kind: 'device';
  nlink: number;
  rdev: number;
  xattr: number;
}

export interface IpcInode extends InodeHeader {
  kind: 'ipc';
  nlink: number;
  xattr: number;
}

export type Inode = DirInode | FileInode | SymlinkInode | DeviceInode | IpcInode;

/** An inode without the header fields the writer fills in last (owner, time, number, mode). */
export type InodeBody = Inode extends infer T
  ? T extends Inode
    ? Omit<T, 'mode' | 'uidIndex' | 'gidIndex' | 'mtime' | 'inodeNumber'>
    : never
  : never;

export const isExtendedType = (type: number) => type >= InodeType.ExtDir;
export const basicTypeOf = (type: number) => (type >= InodeType.ExtDir ? type - 7 : type);

/** Linux "new" dev_t encoding used by squashfs (§8.3). */
export function encodeRdev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}
export function decodeRdev(rdev: number): { major: number; minor: number } {
  return { major: (rdev >>> 8) & 0xfff, minor: (rdev & 0xff) | ((rdev >>> 12) & 0xfff00) };
}

/** The header fields an InodeBody leaves out. */
export type InodeCommon = Pick<
  InodeHeader,
  'mode' | 'uidIndex' | 'gidIndex' | 'mtime' | 'inodeNumber'
>;

export function encodeInode(out: ByteBuilder, inode: Inode): void {
  encodeInodeParts(out, inode, inode);
}

/**
 * Encodes an inode given as its common fields and its body. The writer passes one reused object
 * for the common fields: merging them into each body (`{ ...body, mode, ... }`) made V8 allocate
 * about 2 KiB per inode in old space, which on a million inodes was most of the peak RSS.
 */
export function encodeInodeParts(out: ByteBuilder, common: InodeCommon, inode: InodeBody): void {
  out.u16(inode.type).u16(common.mode).u16(common.uidIndex).u16(common.gidIndex);
  out.u32(common.mtime).u32(common.inodeNumber);
  const ext = isExtendedType(inode.type);
  switch (inode.kind) {
    case 'dir':
      if (!ext) {
        out.u32(inode.startBlock).u32(inode.nlink).u16(inode.fileSize).u16(inode.offset);
        out.u32(inode.parentInode);
      } else {
        out.u32(inode.nlink).u32(inode.fileSize).u32(inode.startBlock).u32(inode.parentInode);
        out.u16(inode.index.length).u16(inode.offset).u32(inode.xattr);
        for (const e of inode.index)
          out
            .u32(e.index)
            .u32(e.start)
            .u32(e.name.length - 1)
            .bytes(e.name);
      }
      return;
    case 'file':
      if (!ext) {
        out.u32(inode.blocksStart).u32(inode.fragment).u32(inode.fragmentOffset);
        out.u32(inode.fileSize);
      } else {
        out.u64(inode.blocksStart).u64(inode.fileSize).u64(inode.sparse).u32(inode.nlink);
        out.u32(inode.fragment).u32(inode.fragmentOffset).u32(inode.xattr);
      }
      for (const w of inode.blockSizes) out.u32(w);
      return;
    case 'symlink':
      out.u32(inode.nlink).u32(inode.target.length).bytes(inode.target);
      if (ext) out.u32(inode.xattr);
      return;
    case 'device':
      out.u32(inode.nlink).u32(inode.rdev);
      if (ext) out.u32(inode.xattr);
      return;
    case 'ipc':
      out.u32(inode.nlink);
      if (ext) out.u32(inode.xattr);
      return;
  }
}

/**
 * Decodes one inode. `blockSize` is needed to know how many size words a file inode has.
 * Counts read from the image are bounded by the caller's reader, never trusted for allocation.
 */
export function decodeInode(r: ByteReader, blockSize: number): Inode {
  const type = r.u16();
  const header: InodeHeader = {
    type,
    mode: r.u16(),
    uidIndex: r.u16(),
    gidIndex: r.u16(),
    mtime: r.u32(),
    inodeNumber: r.u32(),
  };
  switch (type) {
    case InodeType.Dir: {
      const startBlock = r.u32();
      const nlink = r.u32();
      const fileSize = r.u16();
      const offset = r.u16();
      const parentInode = r.u32();
      return {
        ...header,
        kind: 'dir',
        startBlock,
        nlink,
        fileSize,
        offset,
        parentInode,
        xattr: NO_INDEX,
        index: [],
      };
    }
    case InodeType.ExtDir: {
      const nlink = r.u32();
      const fileSize = r.u32();
      const startBlock = r.u32();
      const parentInode = r.u32();
      const indexCount = r.u16();
      const offset = r.u16();
      const xattr = r.u32();
      const index: DirIndexEntry[] = [];
      for (let i = 0; i < indexCount; i++) {
        const idx = r.u32();
        const start = r.u32();
        const nameLen = r.u32() + 1;
        if (nameLen > 256) {
          throw new SquashfsError('CORRUPT', `directory index name length ${nameLen} exceeds 256`);
        }
        index.push({ index: idx, start, name: r.take(nameLen) });
      }
      return {
        ...header,
        kind: 'dir',
        startBlock,
        nlink,
        fileSize,
        offset,
        parentInode,
        xattr,
        index,
      };
    }
    case InodeType.File:
    case InodeType.ExtFile: {
      let blocksStart: number, fragment: number, fragmentOffset: number, fileSize: number;
      let sparse = 0,
        nlink = 1,
        xattr = NO_INDEX;
      if (type === InodeType.File) {
        blocksStart = r.u32();
        fragment = r.u32();
        fragmentOffset = r.u32();
        fileSize = r.u32();
      } else {
        blocksStart = r.u64();
        fileSize = r.u64();
        sparse = r.u64();
        nlink = r.u32();
        fragment = r.u32();
        fragmentOffset = r.u32();
        xattr = r.u32();
      }
      const count =
        fragment === NO_INDEX ? Math.ceil(fileSize / blockSize) : Math.floor(fileSize / blockSize);
      // Each word is 4 bytes of this very stream: a huge count fails the bounds check at once.
      r.need(count * 4);
      const blockSizes = new Uint32Array(count);
      for (let i = 0; i < count; i++) blockSizes[i] = r.u32();
      return {
        ...header,
        kind: 'file',
        blocksStart,
        fragment,
        fragmentOffset,
        fileSize,
        sparse,
        nlink,
        xattr,
        blockSizes,
      };
    }
    case InodeType.Symlink:
    case InodeType.ExtSymlink: {
      const nlink = r.u32();
      const size = r.u32();
      const target = r.take(size);
      const xattr = type === InodeType.ExtSymlink ? r.u32() : NO_INDEX;
      return { ...header, kind: 'symlink', nlink, target, xattr };
    }
    case InodeType.BlockDev:
    case InodeType.CharDev:
    case InodeType.ExtBlockDev:
    case InodeType.ExtCharDev: {
      const nlink = r.u32();
      const rdev = r.u32();
      const xattr = isExtendedType(type) ? r.u32() : NO_INDEX;
      return { ...header, kind: 'device', nlink, rdev, xattr };
    }
    case InodeType.Fifo:
    case InodeType.Socket:
    case InodeType.ExtFifo:
    case InodeType.ExtSocket: {
      const nlink = r.u32();
      const xattr = isExtendedType(type) ? r.u32() : NO_INDEX;
      return { ...header, kind: 'ipc', nlink, xattr };
    }
    default:
      throw new SquashfsError('CORRUPT', `unknown inode type ${type}`, {
        offset: r.baseOffset + r.pos - 16,
      });
  }
}
