/**
 * bench/results/bench.svg: a hand-written bar chart. One panel per corpus (rows) × setting
 * (columns) with the median wall time of each tool, each panel on its own scale (shorter is
 * faster); then, when the scale run ran, its time and peak RSS per tree size.
 */
import { int, mib, seconds } from './format.js';
import type { BenchResults } from './results.js';

const PANEL_W = 330;
const LABEL_W = 112;
const VALUE_W = 60;
const BAR_H = 16;
const GAP = 5;
const TITLE_H = 22;
const PAD = 14;
const HEADER_H = 80;

const COLORS: Record<string, string[]> = {
  tsquashfs: ['#9ecae1', '#4292c6', '#08519c'],
  mksquashfs: ['#fdae6b', '#e6550d'],
  gensquashfs: ['#31a354'],
};

/** One bar: a value, its label, and the text after the bar (or instead of it, with no value). */
interface Bar {
  label: string;
  value: number | null;
  text: string;
  color: string;
}

export function svgChart(r: BenchResults): string {
  const corpora = r.corpora.map((c) => c.id);
  const settings = r.settings.map((s) => s.id);
  const tools = [...new Set(r.cells.map((c) => c.tool))];
  const color = toolColors(tools);
  const rows: Bar[][][] = corpora.map((corpus) =>
    settings.map((setting) =>
      tools.map((tool) => {
        const cell = r.cells.find(
          (c) => c.corpus === corpus && c.setting === setting && c.tool === tool,
        );
        const wall = cell?.median?.wallSeconds ?? null;
        return {
          label: tool,
          value: wall,
          text: wall === null ? (cell?.unsupported ?? 'not run') : `${seconds(wall)} s`,
          color: color.get(tool)!,
        };
      }),
    ),
  );
  const titles = corpora.map((corpus) => settings.map((setting) => `${corpus} · ${setting}`));
  if (r.scale) {
    const points = r.scale.points;
    rows.push([
      points.map((p) => ({
        label: `${int(p.files)} files`,
        value: p.buildSeconds + p.writeSeconds,
        text: `${seconds(p.buildSeconds + p.writeSeconds)} s`,
        color: '#4292c6',
      })),
      points.map((p) => ({
        label: `${int(p.files)} files`,
        value: p.maxRssBytes,
        text: `${mib(p.maxRssBytes)} MiB`,
        color: '#756bb1',
      })),
    ]);
    titles.push(['scale: in-memory tree, seconds', 'scale: in-memory tree, peak RSS']);
  }

  const columns = Math.max(1, ...rows.map((row) => row.length));
  const width = PAD + columns * (PANEL_W + PAD);
  const rowHeights = rows.map(
    (row) => TITLE_H + Math.max(1, ...row.map((bars) => bars.length)) * (BAR_H + GAP) + PAD,
  );
  const height = HEADER_H + rowHeights.reduce((a, h) => a + h + PAD, 0) + PAD;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(PAD, 24, 'tsquashfs benchmark: median wall time (s), shorter is faster', 16, 'bold'),
    text(
      PAD,
      44,
      `${r.date.slice(0, 16).replace('T', ' ')} UTC · ${r.machine.cores} cores · ${r.options.reps} rep(s)${r.options.quick ? ' · quick smoke run' : ''} · each panel has its own scale`,
      11,
      'normal',
      '#555',
    ),
    text(
      PAD,
      62,
      'tsquashfs-pN, mksquashfs-pN: -processors N · gensquashfs-jN: -j N · same flags and image settings for all',
      11,
      'normal',
      '#555',
    ),
  ];
  let y = HEADER_H;
  rows.forEach((row, i) => {
    row.forEach((bars, col) => {
      parts.push(...panel(PAD + col * (PANEL_W + PAD), y, rowHeights[i]!, titles[i]![col]!, bars));
    });
    y += rowHeights[i]! + PAD;
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}

function panel(x0: number, y0: number, h: number, title: string, bars: Bar[]): string[] {
  const out = [
    `<rect x="${x0}" y="${y0}" width="${PANEL_W}" height="${h}" fill="#f7f7f7" stroke="#ddd"/>`,
    text(x0 + 8, y0 + 16, title, 12, 'bold'),
  ];
  const max = Math.max(0, ...bars.map((b) => b.value ?? 0));
  const barMax = PANEL_W - LABEL_W - VALUE_W - 8;
  bars.forEach((b, i) => {
    const y = y0 + TITLE_H + i * (BAR_H + GAP);
    out.push(text(x0 + LABEL_W - 4, y + BAR_H - 4, b.label, 11, 'normal', '#333', 'end'));
    if (b.value === null) {
      out.push(text(x0 + LABEL_W + 4, y + BAR_H - 4, b.text, 10, 'normal', '#999'));
      return;
    }
    const w = max > 0 ? Math.max(1, (b.value / max) * barMax) : 1;
    out.push(
      `<rect x="${x0 + LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.color}"/>`,
      text(x0 + LABEL_W + w + 4, y + BAR_H - 4, b.text, 11, 'normal', '#222'),
    );
  });
  return out;
}

function toolColors(tools: string[]): Map<string, string> {
  const used = new Map<string, number>();
  const out = new Map<string, string>();
  for (const tool of tools) {
    const family = tool.split('-')[0]!;
    const palette = COLORS[family] ?? ['#888'];
    const n = used.get(family) ?? 0;
    used.set(family, n + 1);
    out.set(tool, palette[Math.min(n, palette.length - 1)]!);
  }
  return out;
}

function text(
  x: number,
  y: number,
  s: string,
  size: number,
  weight: string,
  fill = '#000',
  anchor = 'start',
): string {
  return `<text x="${x.toFixed(1)}" y="${y}" font-size="${size}" font-weight="${weight}" fill="${fill}" text-anchor="${anchor}">${escape(s)}</text>`;
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
