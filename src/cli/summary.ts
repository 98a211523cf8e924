/**
 * The end-of-run summary, laid out like mksquashfs's so that people (and scripts) used to it find
 * the same lines. Where mksquashfs compares with sizes the writer does not report (the
 * uncompressed inode and directory tables), the line is shown without the ratio; the overall
 * ratio is against the uncompressed file data, and says so.
 */
import type { WriteReport } from '../squashfs/write/options.js';
import type { MkWriteOptions } from './mk-args.js';

function kbytes(bytes: number): string {
  return (bytes / 1024).toFixed(2);
}

function mbytes(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(2);
}

/** "12.34%", or "n/a" when there is nothing to compare with (mksquashfs prints "-nan%"). */
export function percent(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(2)}%` : 'n/a';
}

function stateOf(uncompressed: boolean, absent = false): string {
  return absent ? 'no' : uncompressed ? 'uncompressed' : 'compressed';
}

export function formatSummary(report: WriteReport, write: MkWriteOptions): string {
  const exportable = write.exports ? 'Exportable ' : '';
  const lines = [
    `${exportable}Squashfs 4.0 filesystem, ${report.compression} compressed, ` +
      `data block size ${report.blockSize}`,
    `\t${stateOf(write.uncompressedData)} data, ${stateOf(write.uncompressedInodes)} metadata, ` +
      `${stateOf(write.uncompressedFragments, write.fragments === 'never')} fragments,`,
    `\t${stateOf(write.uncompressedXattrs, !write.xattrs)} xattrs, ` +
      `${stateOf(write.uncompressedIds || write.uncompressedInodes)} ids`,
    `\tduplicates are ${write.duplicates ? '' : 'not '}removed`,
    `Filesystem size ${kbytes(report.imageSize)} Kbytes (${mbytes(report.imageSize)} Mbytes)`,
    `\t${percent(report.imageSize, report.dataBytes)} of uncompressed file data ` +
      `(${kbytes(report.dataBytes)} Kbytes)`,
    `File data size ${kbytes(report.dataBytesOnDisk)} Kbytes on disk`,
    `\t${percent(report.dataBytesOnDisk, report.dataBytes)} of uncompressed file data`,
    `Inode table size ${report.inodeTableSize} bytes (${kbytes(report.inodeTableSize)} Kbytes)`,
    `Directory table size ${report.directoryTableSize} bytes ` +
      `(${kbytes(report.directoryTableSize)} Kbytes)`,
    `Number of duplicate files found ${report.duplicateFiles}`,
    `Number of sparse blocks ${report.sparseBlocks}`,
    `Number of inodes ${report.inodeCount}`,
    `Number of files ${report.files}`,
    `Number of fragments ${report.fragments}`,
    `Number of symbolic links ${report.symlinks}`,
    `Number of device nodes ${report.devices}`,
    `Number of fifo nodes ${report.fifos}`,
    `Number of socket nodes ${report.sockets}`,
    `Number of directories ${report.directories}`,
    `Number of hard-links ${report.hardLinkedNames}`,
    `Number of ids (unique uids + gids) ${report.idCount}`,
    `Number of xattr sets ${report.xattrSets}`,
  ];
  return lines.join('\n') + '\n';
}
