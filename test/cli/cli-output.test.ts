import { describe, it, expect } from 'vitest';
import { mainHelp, mkHelp } from '../../src/cli/help.js';
import { MK_OPTIONS, UNSUPPORTED_OPTIONS, parseMkArgs } from '../../src/cli/mk-args.js';
import { ProgressBar, renderProgress } from '../../src/cli/progress.js';
import { formatSummary, percent } from '../../src/cli/summary.js';
import type { WriteReport } from '../../src/squashfs/write/options.js';

function memoryStream(columns?: number) {
  const chunks: string[] = [];
  return {
    chunks,
    columns,
    isTTY: true,
    write: (s: string) => chunks.push(s),
    text: () => chunks.join(''),
  };
}

describe('help', () => {
  it('mk --help lists every option and fits 100 columns', () => {
    const help = mkHelp();
    for (const spec of MK_OPTIONS) for (const name of spec.names) expect(help).toContain(name);
    for (const name of UNSUPPORTED_OPTIONS) expect(help).toContain(name);
    for (const x of [
      '-Xcompression-level',
      '-Xwindow-size',
      '-Xstrategy',
      '-Xbcj',
      '-Xdict-size',
    ]) {
      expect(help).toContain(x);
    }
    for (const line of help.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });

  it('every option mk --help lists is accepted', () => {
    for (const spec of MK_OPTIONS) {
      for (const name of spec.names) {
        const sample: Record<string, string> = { '-comp': 'xz', '-root-mode': '755' };
        const value = spec.arg === undefined ? [] : [sample[name] ?? '8192'];
        const argv = ['src', 'img', name, ...value];
        expect(() => parseMkArgs(argv, {}, { uid: () => 0, gid: () => 0 })).not.toThrow();
      }
    }
  });

  it('the main help names the mk command', () => {
    expect(mainHelp()).toMatch(/^\s+mk\s+create a squashfs image/m);
  });
});

describe('progress bar', () => {
  const p = (filesDone: number, filesTotal: number, bytesRead: number, bytesTotal: number) => ({
    filesDone,
    filesTotal,
    bytesRead,
    bytesTotal,
  });

  it('renders the bar, count and percentage within the terminal width', () => {
    // 40 columns: 39 used; ' 123/456 27%' is 12, so the bar inside [] is 25 wide, 27% is 6 of it.
    expect(renderProgress(p(123, 456, 27, 100), 40)).toBe(
      `[${'='.repeat(6)}>${' '.repeat(18)}] 123/456 27%`,
    );
    expect(renderProgress(p(0, 10, 0, 100), 30)).toBe(`[>${' '.repeat(18)}] 0/10 0%`);
    expect(renderProgress(p(10, 10, 100, 100), 30)).toBe(`[${'='.repeat(16)}] 10/10 100%`);
    // Never narrower than 10, even on a tiny terminal.
    expect(renderProgress(p(1, 2, 1, 2), 5)).toBe(`[=====>    ] 1/2 50%`);
    expect(renderProgress(p(3, 4, 0, 0), 80).length).toBe(79);
  });

  it('counts files when there is no data, and is done when there is nothing', () => {
    expect(renderProgress(p(1, 4, 0, 0), 30)).toMatch(/ 1\/4 25%$/);
    expect(renderProgress(p(0, 0, 0, 0), 30)).toMatch(/ 0\/0 100%$/);
  });

  it('redraws at most every 100 ms and ends its line', () => {
    const out = memoryStream(40);
    let now = 0;
    const bar = new ProgressBar(out, () => now);
    bar.update(p(1, 10, 10, 100));
    now = 50;
    bar.update(p(2, 10, 20, 100)); // throttled
    now = 150;
    bar.update(p(3, 10, 30, 100));
    expect(out.chunks.length).toBe(2);
    expect(out.chunks.every((c) => c.startsWith('\r['))).toBe(true);
    bar.update(p(10, 10, 100, 100)); // throttled, but finish draws the final state
    bar.finish(true);
    expect(out.chunks.at(-2)).toMatch(/ 10\/10 100%$/);
    expect(out.chunks.at(-1)).toBe('\n');
  });

  it('prints nothing when it never drew', () => {
    const out = memoryStream();
    new ProgressBar(out).finish(false);
    expect(out.chunks).toEqual([]);
  });
});

describe('summary', () => {
  const report: WriteReport = {
    imageSize: 68_126,
    paddedSize: 69_632,
    blockSize: 131072,
    compression: 'gzip',
    inodeCount: 6,
    files: 3,
    directories: 2,
    symlinks: 1,
    devices: 0,
    fifos: 0,
    sockets: 0,
    hardLinkedNames: 0,
    fragments: 1,
    duplicateFiles: 0,
    blocksCompressed: 2,
    sparseBlocks: 0,
    idCount: 1,
    xattrSets: 0,
    dataBytes: 151_347,
    dataBytesOnDisk: 67_900,
    inodeTableSize: 110,
    directoryTableSize: 56,
  };
  const write = parseMkArgs(['s', 'i'], {}).write;

  it('has mksquashfs-like lines with ratios', () => {
    const text = formatSummary(report, write);
    expect(text).toContain(
      'Exportable Squashfs 4.0 filesystem, gzip compressed, data block size 131072\n',
    );
    expect(text).toContain('\tcompressed data, compressed metadata, compressed fragments,\n');
    expect(text).toContain('\tduplicates are removed\n');
    expect(text).toContain('Filesystem size 66.53 Kbytes (0.06 Mbytes)\n');
    expect(text).toContain('\t45.01% of uncompressed file data (147.80 Kbytes)\n');
    expect(text).toContain('Inode table size 110 bytes (0.11 Kbytes)\n');
    expect(text).toContain('Number of files 3\n');
    expect(text).toContain('Number of fragments 1\n');
  });

  it('describes the options that change the layout', () => {
    const w = parseMkArgs(
      ['s', 'i', '-noI', '-noD', '-no-fragments', '-no-xattrs', '-no-duplicates', '-no-exports'],
      {},
    ).write;
    const text = formatSummary(report, w);
    expect(text).toMatch(/^Squashfs 4.0 filesystem/);
    expect(text).toContain('\tuncompressed data, uncompressed metadata, no fragments,\n');
    expect(text).toContain('\tno xattrs, uncompressed ids\n');
    expect(text).toContain('\tduplicates are not removed\n');
  });

  it('shows n/a rather than dividing by zero', () => {
    expect(percent(5, 0)).toBe('n/a');
    expect(percent(1, 4)).toBe('25.00%');
  });
});
