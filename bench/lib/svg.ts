/**
 * bench/results/bench.svg: a hand-written bar chart of median wall time per tool, one panel per
 * corpus (rows) × setting (columns), each panel with its own scale. Shorter bars are faster.
 */
import { seconds } from './format.js';
import type { BenchResults } from './results.js';

const PANEL_W = 330;
const LABEL_W = 112;
const VALUE_W = 52;
const BAR_H = 16;
const GAP = 5;
const TITLE_H = 22;
const PAD = 14;

const COLORS: Record<string, string[]> = {
  tsquashfs: ['#9ecae1', '#4292c6', '#08519c'],
  mksquashfs: ['#fdae6b', '#e6550d'],
  gensquashfs: ['#31a354'],
};

export function svgChart(r: BenchResults): string {
  const corpora = r.corpora.map((c) => c.id);
  const settings = r.settings.map((s) => s.id);
  const tools = [...new Set(r.cells.map((c) => c.tool))];
  const color = toolColors(tools);
  const panelH = TITLE_H + tools.length * (BAR_H + GAP) + PAD;
  const headerH = 80;
  const width = PAD + settings.length * (PANEL_W + PAD);
  const height = headerH + corpora.length * (panelH + PAD) + PAD;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    text(PAD, 24, `tsquashfs benchmark: median wall time (s), shorter is faster`, 16, 'bold'),
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
  );
  corpora.forEach((corpus, row) => {
    settings.forEach((setting, col) => {
      const x0 = PAD + col * (PANEL_W + PAD);
      const y0 = headerH + row * (panelH + PAD);
      parts.push(
        `<rect x="${x0}" y="${y0}" width="${PANEL_W}" height="${panelH}" fill="#f7f7f7" stroke="#ddd"/>`,
        text(x0 + 8, y0 + 16, `${corpus} · ${setting}`, 12, 'bold'),
      );
      const cells = r.cells.filter((c) => c.corpus === corpus && c.setting === setting);
      const max = Math.max(0, ...cells.map((c) => c.median?.wallSeconds ?? 0));
      const barMax = PANEL_W - LABEL_W - VALUE_W - 8;
      tools.forEach((tool, i) => {
        const y = y0 + TITLE_H + i * (BAR_H + GAP);
        const cell = cells.find((c) => c.tool === tool);
        parts.push(text(x0 + LABEL_W - 4, y + BAR_H - 4, tool, 11, 'normal', '#333', 'end'));
        const wall = cell?.median?.wallSeconds;
        if (wall === undefined) {
          parts.push(
            text(
              x0 + LABEL_W + 4,
              y + BAR_H - 4,
              cell?.unsupported ?? 'not run',
              10,
              'normal',
              '#999',
            ),
          );
          return;
        }
        const w = max > 0 ? Math.max(1, (wall / max) * barMax) : 1;
        parts.push(
          `<rect x="${x0 + LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${color.get(tool)}"/>`,
          text(x0 + LABEL_W + w + 4, y + BAR_H - 4, `${seconds(wall)} s`, 11, 'normal', '#222'),
        );
      });
    });
  });
  parts.push('</svg>', '');
  return parts.join('\n');
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
