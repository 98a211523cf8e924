/**
 * What our reader sees in an image against what unsquashfs extracted from it: every path, type,
 * mode, owner, mtime, content, symlink target, device number, xattr and hard-link group.
 */
import { closeSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { decodeRdev, type DeviceInode } from '../../src/squashfs/format/inode.js';
import { openImage, type ReadInode, type SquashfsImage } from '../../src/squashfs/read/image.js';
import { readXattrs, splitDev, walkTree } from '../helpers/tree-compare.js';

/** The file type of each basic inode type (an extended type is its basic one + 7). */
export const KIND_OF_TYPE: Record<number, string> = {
  1: 'dir',
  2: 'file',
  3: 'symlink',
  4: 'blockdev',
  5: 'chardev',
  6: 'fifo',
  7: 'socket',
};

/** Files above this are compared chunk by chunk with positioned reads, holes skipped. */
const WHOLE_FILE_LIMIT = 64 << 20;

/** The first difference between the reader's file and the file at `abs`, or null. */
async function compareContent(
  img: SquashfsImage,
  inode: ReadInode,
  abs: Buffer,
  size: bigint,
): Promise<string | null> {
  if (size <= BigInt(WHOLE_FILE_LIMIT)) {
    const parts: Uint8Array[] = [];
    let length = 0;
    for await (const c of img.readFile(inode)) {
      parts.push(c);
      length += c.length;
    }
    if (BigInt(length) !== size) return `size ${length} vs ${size}`;
    return Buffer.compare(Buffer.concat(parts), readFileSync(abs)) === 0 ? null : 'contents differ';
  }
  // A huge (sparse) file: its data blocks are compared where they are; its holes are compared
  // by compareTrees' samples of the two extractions.
  const fd = openSync(abs, 'r');
  try {
    let at = 0;
    for await (const c of img.readFileChunks(inode)) {
      if (typeof c === 'number') {
        at += c;
        continue;
      }
      const theirs = Buffer.alloc(c.length);
      readSync(fd, theirs, 0, c.length, at);
      if (Buffer.compare(theirs, c) !== 0) return `contents differ in the block at ${at}`;
      at += c.length;
    }
    return BigInt(at) === size ? null : `size ${at} vs ${size}`;
  } finally {
    closeSync(fd);
  }
}

/** Compares what the reader sees in `image` with unsquashfs's extraction of it in `extracted`. */
export async function compareReaderWith(image: string, extracted: string): Promise<string[]> {
  const diffs: string[] = [];
  const onDisk = walkTree(extracted);
  const xattrs = await readXattrs(extracted, ['user.', 'trusted.', 'security.']);
  const seen = new Set<string>();
  /** Hard-link groups: inode number → paths (ours), st.ino → paths (theirs). */
  const ourLinks = new Map<number, string[]>();
  const theirLinks = new Map<bigint, string[]>();
  const img = await openImage(image);
  try {
    for await (const { path, inode } of img.walk()) {
      const key = Buffer.from(path).toString('latin1');
      seen.add(key);
      const disk = onDisk.get(key);
      const say = (what: string) => diffs.push(`${key || '/'}: ${what}`);
      if (disk === undefined) {
        say('read by us, not extracted by unsquashfs');
        continue;
      }
      const basic = inode.type > 7 ? inode.type - 7 : inode.type;
      if (KIND_OF_TYPE[basic] !== disk.kind) say(`kind ${KIND_OF_TYPE[basic]} vs ${disk.kind}`);
      if (inode.kind !== 'dir') {
        ourLinks.set(inode.inodeNumber, [...(ourLinks.get(inode.inodeNumber) ?? []), key]);
        theirLinks.set(disk.st.ino, [...(theirLinks.get(disk.st.ino) ?? []), key]);
      }
      if ((Number(disk.st.mode) & 0o7777) !== inode.mode)
        say(`mode ${inode.mode.toString(8)} vs ${(Number(disk.st.mode) & 0o7777).toString(8)}`);
      const { uid, gid } = await img.owner(inode);
      if (BigInt(uid) !== disk.st.uid || BigInt(gid) !== disk.st.gid)
        say(`owner ${uid}:${gid} vs ${disk.st.uid}:${disk.st.gid}`);
      if (key !== '' && BigInt(inode.mtime) !== disk.st.mtimeNs / 1_000_000_000n)
        say(`mtime ${inode.mtime} vs ${disk.st.mtimeNs}`);
      if (inode.kind === 'file') {
        const d = await compareContent(img, inode, disk.abs, disk.st.size);
        if (d !== null) say(d);
      }
      if (
        inode.kind === 'symlink' &&
        Buffer.compare(
          Buffer.from(img.readlink(inode)),
          readlinkSync(disk.abs, { encoding: 'buffer' }),
        ) !== 0
      )
        say('symlink target differs');
      if (inode.kind === 'device') {
        const ours = decodeRdev((inode as DeviceInode).rdev);
        const theirs = splitDev(disk.st.rdev);
        if (ours.major !== theirs.major || ours.minor !== theirs.minor)
          say(`device ${ours.major}:${ours.minor} vs ${theirs.major}:${theirs.minor}`);
      }
      const ourX = new Map(
        (await img.xattrs(inode)).map((x) => [x.name, Buffer.from(x.value).toString('hex')]),
      );
      const theirX = xattrs.get(key) ?? new Map<string, string>();
      for (const name of new Set([...ourX.keys(), ...theirX.keys()])) {
        if (ourX.get(name) !== theirX.get(name))
          say(`xattr ${name}: ${ourX.get(name)} vs ${theirX.get(name)}`);
      }
    }
  } finally {
    await img.close();
  }
  for (const key of onDisk.keys())
    if (!seen.has(key)) diffs.push(`${key}: extracted by unsquashfs, not read by us`);
  // The same hard-link groups on both sides (as sorted lists of sorted path lists).
  const groups = (m: Map<unknown, string[]>) =>
    [...m.values()]
      .filter((g) => g.length > 1)
      .map((g) => g.sort().join(' = '))
      .sort();
  const ours = groups(ourLinks);
  const theirs = groups(theirLinks);
  if (JSON.stringify(ours) !== JSON.stringify(theirs))
    diffs.push(`hard links: ours [${ours.join('; ')}] vs unsquashfs [${theirs.join('; ')}]`);
  return diffs;
}
