/** bench/results/bench.md: the results as markdown tables, from the JSON results alone. */
import { int, mib, seconds, times } from './format.js';
import type { BenchResults, TargetCheck } from './results.js';
import { LINEAR_LIMIT } from './scale-report.js';

function fastNote(r: BenchResults): string {
  const { fastReps, fastCellSeconds, reps } = r.options;
  return fastReps !== undefined && fastReps > reps
    ? ` (${fastReps} where every first run took under ${fastCellSeconds} s)`
    : '';
}

export function markdownReport(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  out.push('# tsquashfs benchmark', '');
  out.push(
    `${r.date} — ${m.cores} cores (${m.cpuModel}), ${mib(m.memoryBytes)} MiB RAM, ${m.os}, Node ${m.node}. ` +
      `${r.options.reps} repetition(s) per tool${fastNote(r)}, tools alternating${r.options.quick ? ', **quick smoke run (small inputs)**' : ''}.`,
    '',
  );
  out.push(
    `Tools: ${Object.values(r.tools)
      .map((v) => v ?? 'missing')
      .join('; ')}.`,
    '',
  );
  const load = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
  out.push(
    `Load average (1, 5, 15 min) at the start: ${load(m.loadAverageStart)}, at the end: ${load(m.loadAverageEnd)}` +
      `${Math.max(...m.loadAverageStart, ...m.loadAverageEnd) > m.cores ? ' — **the machine was busy: wall times are skewed; CPU times less so**' : ''}. ` +
      `The run took ${Math.round(r.durationSeconds / 60)} min.`,
    '',
    'Medians of wall time, CPU time (user + system), peak RSS and image size.',
    '',
  );

  out.push(
    '## Inputs',
    '',
    '| corpus | what | files | directories | bytes |',
    '|---|---|---:|---:|---:|',
  );
  for (const c of r.corpora) {
    out.push(
      `| ${c.id} | ${c.description} | ${int(c.files)} | ${int(c.directories)} | ${int(c.bytes)} |`,
    );
  }
  out.push('', '| setting | flags (mksquashfs, tsquashfs mk) | gensquashfs |', '|---|---|---|');
  for (const s of r.settings) {
    out.push(
      `| ${s.id} | \`${s.mksquashfs.join(' ')}\` | ${s.gensquashfs ? `\`${s.gensquashfs.join(' ')}\`` : 'not supported'} |`,
    );
  }
  out.push(
    '',
    'Common flags: `-noappend -all-root -all-time 0 -mkfs-time 0 -no-xattrs -processors P` ' +
      '(gensquashfs: `--all-root -e -j P`; it sets every time to 0 and stores no xattrs by default).',
    '',
  );

  if (r.targets.length > 0) {
    out.push(
      '## Targets',
      '',
      '| target | corpus | setting | measured | limit | pass | how |',
      '|---|---|---|---:|---:|---|---|',
    );
    for (const t of r.targets) {
      out.push(
        `| ${t.description} | ${t.corpus} | ${t.setting} | ${t.detail.startsWith('the run failed') ? 'failed' : targetValue(t, t.value)} | ${targetValue(t, t.limit)} | ${t.pass ? 'pass' : '**FAIL**'} | ${t.detail} |`,
      );
    }
    out.push('');
  }

  const subject = r.ratios[0]?.subject ?? null;
  for (const c of r.corpora) {
    const corpus = c.id;
    out.push(`## ${corpus}`, '');
    out.push(
      `| setting | tool | wall s | CPU s | peak RSS MiB | image bytes | same bytes as mksquashfs |${
        subject ? ` ${subject} ÷ tool: wall | CPU | RSS | size |` : ''
      }`,
      `|---|---|---:|---:|---:|---:|---|${subject ? '---:|---:|---:|---:|' : ''}`,
    );
    for (const cell of r.cells.filter((x) => x.corpus === corpus)) {
      const md = cell.median;
      const ra = r.ratios.find(
        (x) => x.corpus === corpus && x.setting === cell.setting && x.peer === cell.tool,
      );
      const ratioCols = subject
        ? ra
          ? ` ${times(ra.wall)} | ${times(ra.cpu)} | ${times(ra.rss)} | ${times(ra.size)} |`
          : cell.tool === subject
            ? ' — | — | — | — |'
            : ' | | | |'
        : '';
      if (!md) {
        out.push(
          `| ${cell.setting} | ${cell.tool} | ${cell.unsupported ?? 'no runs'} | | | | |${ratioCols}`,
        );
        continue;
      }
      const same =
        cell.identicalToMksquashfs === null ? '' : cell.identicalToMksquashfs ? 'yes' : 'no';
      out.push(
        `| ${cell.setting} | ${cell.tool} | ${seconds(md.wallSeconds)} | ${seconds(md.cpuSeconds)} | ${mib(md.maxRssBytes)} | ${int(md.imageBytes)} | ${same} |${ratioCols}`,
      );
    }
    out.push('');
  }

  if (r.scale) {
    const s = r.scale;
    out.push('## Scale: in-memory trees', '', `${s.settings}, one child process per size.`, '');
    out.push(
      '| files | build s | write s | µs per file | peak RSS MiB | RSS bytes per file | image bytes |',
      '|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const p of s.points) {
      out.push(
        `| ${int(p.files)} | ${seconds(p.buildSeconds)} | ${seconds(p.writeSeconds)} | ${p.microsPerFile.toFixed(1)} | ${mib(p.maxRssBytes)} | ${int(p.rssBytesPerFile)} | ${int(p.imageBytes)} |`,
      );
    }
    for (const f of s.failures ?? [])
      out.push(`| ${int(f.files)} | failed: ${f.error} | | | | | |`);
    out.push('', '| from → to files | time exponent | RSS exponent |', '|---|---:|---:|');
    for (const e of s.exponents) {
      out.push(`| ${int(e.from)} → ${int(e.to)} | ${e.time.toFixed(2)} | ${e.rss.toFixed(2)} |`);
    }
    out.push(
      '',
      `Exponent = log(cost ratio) / log(file-count ratio); 1 is linear. Linear (every exponent ≤ ${LINEAR_LIMIT}): **${s.linear ? 'yes' : 'no'}**.`,
      '',
    );
  }
  return out.join('\n');
}

function targetValue(t: TargetCheck, v: number): string {
  return t.id.endsWith('rss') ? `${mib(v)} MiB` : times(v);
}
