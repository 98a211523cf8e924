/**
 * Verifier checks of file data (format page §7, §19.6): every fragment-table entry and every data
 * block of every file reachable from the root. Size words must have bits 25-31 clear, payloads
 * must be at most one block and inside bytes_used, and each block must decode (with an output
 * bound of one block) to exactly the length the file needs; a file's tail must fit in its decoded
 * fragment block. Blocks shared by de-duplicated files are decoded once.
 */
import { DATA_SIZE_MASK, DATA_UNCOMPRESSED, InodeType, NO_INDEX } from '../format/constants.js';
import type { FileInode } from '../format/inode.js';
import { getU64 } from '../io/bytes.js';
import { codecProblems } from './verify-codec.js';
import type { MetaStream, VerifyContext } from './verify-metadata.js';
import type { LookupTableData } from './verify-tables.js';
import type { TreeResult } from './verify-tree.js';

export interface DataStats {
  dataBlocks: number;
  sparseBlocks: number;
  fragmentBlocks: number;
}

const WORD_RESERVED = ~(DATA_SIZE_MASK | DATA_UNCOMPRESSED);

export class DataVerifier {
  /** `${position}:${word}` → decoded length, or null if it did not decode. */
  private readonly decoded = new Map<string, number | null>();
  /** Fragment index → decoded length, or null if unusable. */
  private readonly fragmentLengths = new Map<number, number | null>();
  readonly stats: DataStats = { dataBlocks: 0, sparseBlocks: 0, fragmentBlocks: 0 };

  constructor(
    private readonly ctx: VerifyContext,
    private readonly dataStart: number,
  ) {}

  /** Decodes one block; null (reported) if it does not. */
  private async decode(
    position: number,
    word: number,
    rule: string,
    structure: string,
  ): Promise<number | null> {
    const key = `${position}:${word}`;
    if (this.decoded.has(key)) return this.decoded.get(key)!;
    const size = word & DATA_SIZE_MASK;
    const bytes = await this.ctx.source.read(position, size, structure);
    let length: number | null;
    if ((word & DATA_UNCOMPRESSED) !== 0) length = size;
    else {
      try {
        length = this.ctx.compressor.decompress(bytes, this.ctx.blockSize).length;
        for (const c of codecProblems(this.ctx.codec, bytes, this.ctx.blockSize))
          this.ctx.p.error(c.rule, position + c.at, structure, c.message);
      } catch (err) {
        this.ctx.p.error(
          rule,
          position,
          structure,
          `the ${size}-byte block does not decompress to at most ${this.ctx.blockSize} bytes: ${(err as Error).message}`,
        );
        length = null;
      }
    }
    this.decoded.set(key, length);
    return length;
  }

  /** Judges a size word and the block's place; false if the block must not be read. */
  private checkWord(
    word: number,
    position: number,
    wordAt: number,
    prefix: 'data' | 'fragment',
    structure: string,
  ): boolean {
    const p = this.ctx.p;
    const size = word & DATA_SIZE_MASK;
    let ok = true;
    if ((word & WORD_RESERVED) !== 0) {
      p.error(
        `${prefix}.size-word`,
        wordAt,
        structure,
        `size word 0x${(word >>> 0).toString(16).padStart(8, '0')} has bits 25-31 set (the kernel rejects it)`,
      );
      ok = false;
    }
    if (size > this.ctx.blockSize) {
      p.error(
        `${prefix}.block-size`,
        wordAt,
        structure,
        `on-disk size ${size} exceeds the block size ${this.ctx.blockSize}`,
      );
      return false;
    }
    if (position < 0 || position + size > this.ctx.limit) {
      p.error(
        `${prefix}.bounds`,
        wordAt,
        structure,
        `the ${size}-byte block at ${position} lies outside bytes_used ${this.ctx.limit}`,
      );
      return false;
    }
    if (position < this.dataStart || position + size > this.ctx.sb.inodeTableStart) {
      p.warn(
        `${prefix}.placement`,
        wordAt,
        structure,
        `the block at ${position} (${size} bytes) is outside the data area ${this.dataStart}..${this.ctx.sb.inodeTableStart}`,
      );
    }
    return ok;
  }

  async fragments(table: LookupTableData): Promise<void> {
    const p = this.ctx.p;
    const stream = table.stream;
    for (let i = 0; i < table.count; i++) {
      const s = i * 16;
      if (stream.readable(s, 16) !== null) break;
      const structure = `fragment ${i}`;
      const at = stream.abs(s);
      const view = new DataView(stream.bytes.buffer, stream.bytes.byteOffset + s, 16);
      let start: number;
      try {
        start = getU64(view, 0);
      } catch {
        start = -1;
      }
      const word = view.getUint32(8, true);
      if (view.getUint32(12, true) !== 0) {
        p.warn('fragment.unused', stream.abs(s + 12), structure, 'the unused field is not 0');
      }
      if ((word & DATA_SIZE_MASK) === 0) {
        p.error(
          'fragment.size-word',
          stream.abs(s + 8),
          structure,
          'size word 0: a fragment block cannot be sparse',
        );
        this.fragmentLengths.set(i, null);
        continue;
      }
      if (!this.checkWord(word, start, start < 0 ? at : stream.abs(s + 8), 'fragment', structure)) {
        this.fragmentLengths.set(i, null);
        continue;
      }
      this.stats.fragmentBlocks++;
      const length = await this.decode(start, word, 'fragment.decompress', structure);
      this.fragmentLengths.set(i, length);
    }
  }

  async files(tree: TreeResult, inodes: MetaStream): Promise<void> {
    const p = this.ctx.p;
    const bs = this.ctx.blockSize;
    for (const info of tree.inodes.values()) {
      if (info.inode.kind !== 'file') continue;
      const file = info.inode as FileInode;
      const ext = file.type === InodeType.ExtFile;
      const structure = `inode ${file.inodeNumber} (${info.path})`;
      const hasFragment = file.fragment !== NO_INDEX;
      const n = file.blockSizes.length;
      let position = file.blocksStart;
      for (let i = 0; i < n; i++) {
        const word = file.blockSizes[i]!;
        const wordAt = inodes.abs(info.start + (ext ? 56 : 32) + 4 * i);
        const size = word & DATA_SIZE_MASK;
        if (word === 0) {
          this.stats.sparseBlocks++;
          continue;
        }
        const blockStructure = `${structure} block ${i}`;
        const readable = this.checkWord(word, position, wordAt, 'data', blockStructure);
        if (readable) {
          this.stats.dataBlocks++;
          const length = await this.decode(position, word, 'data.decompress', blockStructure);
          const expected = i < n - 1 || hasFragment ? bs : file.fileSize - i * bs;
          if (length !== null && length !== expected) {
            p.error(
              'data.block-length',
              position,
              blockStructure,
              `the block at ${position} decodes to ${length} bytes, the file needs ${expected} (size ${file.fileSize})`,
            );
          }
        }
        position += size;
      }
      if (hasFragment && file.fragment < this.ctx.sb.fragmentCount) {
        const length = this.fragmentLengths.get(file.fragment);
        const tail = file.fileSize % bs;
        if (length !== undefined && length !== null && file.fragmentOffset + tail > length) {
          p.error(
            'file.fragment-tail',
            inodes.abs(info.start + (ext ? 48 : 24)),
            structure,
            `its ${tail}-byte tail at offset ${file.fragmentOffset} ends past the ${length} bytes of fragment ${file.fragment}`,
          );
        }
      }
    }
  }
}
