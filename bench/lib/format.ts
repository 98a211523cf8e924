/** Number formatting shared by the markdown report and the chart. */

export function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0);
}

/** Three significant digits from 0.1 s up (the wall times are measured to the nanosecond). */
export function seconds(s: number): string {
  return s < 1 ? s.toFixed(3) : s < 10 ? s.toFixed(2) : s.toFixed(1);
}

export function times(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(r < 10 ? 3 : 1)}×` : '∞';
}

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
