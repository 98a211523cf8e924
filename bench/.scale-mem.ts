/**
 * One scale-run measurement, in its own process so that its peak RSS is its own: builds an
 * in-memory tree of N small files with the library API (from dist/, the built package) and
 * writes it to an image with the default settings (gzip, 128 KiB blocks). Prints one JSON line.
 *
 *   node --import tsx bench/scale-child.ts FILES IMAGE
 *
 * Content is generated on read (a FileSource, as the API intends), 0–1023 text-like bytes per
 * file, and every tenth file has one of 97 shared contents, so the writer finds duplicates.
 * 1 000 files per directory.
 */
import { Prng, fillText } from './lib/prng.js';

type Api = typeof import('../src/index.js');
type FileSource = import('../src/index.js').FileSource;
type DirEntryNode = import('../src/squashfs/tree.js').DirEntryNode;

class GeneratedSource implements FileSource {
  readonly description = 'generated';
  constructor(
    private readonly seed: number,
    readonly size: number,
  ) {}
  async *read(): AsyncIterable<Uint8Array> {
    yield fillText(new Prng(this.seed), new Uint8Array(this.size));
  }
}

function sourceFor(i: number): GeneratedSource {
  const seed = i % 10 === 0 ? 2_000_000_000 + ((i / 10) % 97) : i;
  const size = Math.imul(seed, 0x9e3779b1) >>> 22; // 0–1023, fixed per seed
  return new GeneratedSource(seed, size);
}

async function main(): Promise<void> {
  const [filesArg, image] = process.argv.slice(2);
  const files = Number(filesArg);
  if (!Number.isInteger(files) || files < 1 || !image) {
    console.error('usage: node --import tsx bench/scale-child.ts FILES IMAGE');
    process.exit(2);
  }
  const api = (await import(new URL('../dist/index.js', import.meta.url).href)) as Api;
  const { tree, writeImage, nameBytes } = api;

  const t0 = performance.now();
  const dirs: DirEntryNode[] = [];
  for (let d = 0; d * 1000 < files; d++) {
    const entries: DirEntryNode[] = [];
    for (let i = d * 1000; i < Math.min(files, (d + 1) * 1000); i++) {
      entries.push({ name: nameBytes(`f${i}`), node: tree.file(sourceFor(i)) });
    }
    dirs.push({ name: nameBytes(`d${String(d).padStart(4, '0')}`), node: tree.dir(entries) });
  }
  const root = tree.dir(dirs);
  const t1 = performance.now();
  const iv = setInterval(() => { const m = process.memoryUsage(); console.error((performance.now()/1000).toFixed(1), "rss", (m.rss/2**20).toFixed(0), "heap", (m.heapUsed/2**20).toFixed(0), "ext", (m.external/2**20).toFixed(0), "ab", (m.arrayBuffers/2**20).toFixed(0)); }, 1000); const report = await writeImage(root, image, { onProgress: (p) => { if (p.filesDone === p.filesTotal) console.error("data done", (performance.now()/1000).toFixed(1)); } }); clearInterval(iv);
  const t2 = performance.now();
  const usage = process.resourceUsage();
  console.log(
    JSON.stringify({
      files,
      buildSeconds: (t1 - t0) / 1000,
      writeSeconds: (t2 - t1) / 1000,
      cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
      maxRssBytes: usage.maxRSS * 1024,
      imageBytes: report.imageSize,
      duplicateFiles: report.duplicateFiles,
    }),
  );
}

await main();
