/**
 * The ID table (format page §10.3): unique uid/gid values shared by both uses, in order of first
 * use while inodes are written (uid before gid), as mksquashfs orders them. The inode stores a
 * u16 index, and the superblock's id_count is a u16, so at most 65535 distinct ids fit.
 */
import { SquashfsError } from '../errors.js';
import { ByteBuilder } from '../io/bytes.js';

export const MAX_DISTINCT_IDS = 0xffff;

export class IdTable {
  private readonly index = new Map<number, number>();
  readonly ids: number[] = [];

  /** `pathOf` names an owner (an inode row) in the error when the table is full. */
  constructor(private readonly pathOf: (owner: number) => string) {}

  indexOf(id: number, owner: number): number {
    let i = this.index.get(id);
    if (i === undefined) {
      if (this.ids.length === MAX_DISTINCT_IDS) {
        const path = this.pathOf(owner);
        throw new SquashfsError(
          'LIMIT',
          `more than ${MAX_DISTINCT_IDS} distinct uids and gids; squashfs cannot store the owner of ${path}`,
          { path },
        );
      }
      i = this.ids.length;
      this.ids.push(id);
      this.index.set(id, i);
    }
    return i;
  }

  records(): Uint8Array {
    const out = new ByteBuilder(this.ids.length * 4);
    for (const id of this.ids) out.u32(id);
    return out.toBytes();
  }
}
