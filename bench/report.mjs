// Turns the results (latest.json) into latest.md (tables with ratios to serve-static and to raw; ours' variants,
// precompressed, content ETags and the fetch door, divided by ours too) and ratios.svg (req/s ÷ serve-static, per
// scenario and server). Also runnable alone to re-render:
//   node bench/report.mjs [bench/results/latest.json]
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE = 'serve-static';
const NOISY = 10; // % of a core used by other processes during a timed run (see run.mjs)
const CEILING = 'raw';
const COLORS = ['#d62728', '#ff7f0e', '#7f7f7f', '#8c564b', '#2ca02c', '#9467bd', '#1f77b4', '#17becf', '#bcbd22', '#e377c2', '#393b79', '#637939'];
/** @type {Record<string, string>} */
const SIZES = { '1k': '1 KB', '30k': '30 KB', '100k': '100 KB', '10m': '10 MB' };
/** brisk-static with default options through the Connect door: what its variants are divided by. */
const OURS = 'ours';
/** Variants of ours compared with it, each with the question its ratio answers (the issue's wording). */
const VARIANTS = [
  { id: 'ours-precompressed', question: 'cost of precompressed: true without sidecars (vs ours)', target: 0.9 },
  { id: 'ours-content-etag', question: "etag: 'content' steady state (vs ours)", target: 0.9 },
  { id: 'ours-fetch', question: 'fetch door vs Connect door (vs ours)', target: undefined },
];

/** @param {number | undefined} n */
const int = (n) => (n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
/** @param {number | undefined} n */
const dec = (n, digits = 1) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));
/** @param {number | undefined} n @param {number | undefined} base */
const ratio = (n, base) => (n === undefined || base === undefined || !(base > 0) || !Number.isFinite(n) ? '–' : `${(n / base).toFixed(2)}×`);
/** @param {number | undefined} n @param {number | undefined} base @param {number | undefined} ceiling */
const ratioPair = (n, base, ceiling) => `${ratio(n, base)} / ${ratio(n, ceiling)}`;

/** Writes latest.md and ratios.svg next to each other in `dir` (write to .tmp, then rename). */
export function writeReport(/** @type {any} */ results, /** @type {string} */ dir) {
  for (const [name, text] of [
    ['latest.md', renderMarkdown(results)],
    ['ratios.svg', renderSvg(results)],
  ]) {
    const path = join(dir, name);
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
  }
}

/** @param {any} r results */
export function renderMarkdown(r) {
  const m = r.meta;
  const o = m.options;
  const out = [];
  out.push('# brisk-static benchmarks', '');
  out.push(`- date: ${m.date} (run took ${Math.floor(m.elapsedSeconds / 60)} min ${Math.round(m.elapsedSeconds % 60)} s)`);
  out.push(`- node ${m.node}, ${m.cpu} × ${m.cores} cores, ${m.os}; load average at start ${m.loadAverage.start}, at end ${m.loadAverage.end}`);
  out.push(`- load generator: ${m.load.name} ${m.load.version}${m.load.name === 'wrk' ? `, ${o.threads} thread(s)` : ''}; ${m.pinned ? 'servers pinned to core 0, load generator to core 1 (taskset)' : 'not pinned (no taskset or a single core)'}`);
  out.push(`- each timed run ${o.duration} s, warm-up ${o.warmup} s per server before timing, median of ${o.rounds} round(s) (servers interleaved within a round); keep-alive, ${o.connections} connections unless stated`);
  out.push(`- versions: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const worst = maxForeignCpu(r);
  out.push(`- other processes on the machine: up to ${int(worst)}% of a core during a timed run${worst >= NOISY ? ' — rows marked "disturbed" were measured while something else was busy; rerun on a quiet machine before comparing' : ' (quiet)'}`);
  out.push(`- command: \`${m.command}\`${o.quick ? ' (quick mode: a smoke test, not for comparison)' : ''}`);
  out.push('');
  out.push('Servers: ' + r.servers.map((/** @type {any} */ s) => `**${s.id}** (${s.note})`).join('; ') + '.');
  if (!m.cacheOptionKnown) out.push('', '`ours+cache` passes `{ cache: true }`, which this build does not know yet: it is `ours` again.');
  out.push('');
  out.push(`Ratios: "÷ss" is the figure divided by ${BASE}'s, "÷raw" by the raw node:http ceiling's, both from the same table of this run. For req/s and MiB/s higher is better; for p99, RSS and startup lower is better. RSS is VmRSS of the server process (nginx: master + worker) after the timed runs; startup is process start → first 200, polled by the harness.`);

  const scenarios = r.scenarios ?? [];
  if (scenarios.length > 0) {
    out.push('', '## Headline', '');
    out.push('Each cell: value (÷ss / ÷raw).', '');
    const pick = (/** @type {string} */ id) => scenarios.find((/** @type {any} */ s) => s.id === id);
    const cols = [
      ['1k', '1 KB req/s', (/** @type {any} */ c) => c.rps],
      ['304', '304 req/s', (/** @type {any} */ c) => c.rps],
      ['miss', 'miss req/s', (/** @type {any} */ c) => c.rps],
      ['10m', '10 MB MiB/s', (/** @type {any} */ c) => c.mibps],
    ].filter(([id]) => pick(/** @type {string} */ (id)) !== undefined);
    out.push(`| server | ${cols.map((c) => c[1]).join(' | ')} | startup ms (median) |`);
    out.push(`|---|${cols.map(() => '--:|').join('')}--:|`);
    const startup = medianStartups(scenarios);
    for (const s of r.servers) {
      const cells = cols.map(([id, , get]) => {
        const sc = pick(/** @type {string} */ (id));
        const c = sc.results[s.id];
        if (c === undefined) return '–';
        if (c.wrong || c.failed) return c.wrong ? 'wrong answer' : 'failed';
        const f = /** @type {(c: any) => number} */ (get);
        const v = f(c);
        return `${id === '10m' ? dec(v) : int(v)} (${ratioPair(v, sc.results[BASE] && f(sc.results[BASE]), sc.results[CEILING] && f(sc.results[CEILING]))})`;
      });
      const st = startup[s.id];
      out.push(`| ${s.id} | ${cells.join(' | ')} | ${int(st)} (${ratioPair(st, startup[BASE], startup[CEILING])}) |`);
    }
  }

  out.push(...renderVariants(r));

  for (const sc of scenarios) {
    out.push('', `## ${sc.title}`, '');
    out.push(`\`GET ${sc.path}\`${Object.entries(sc.requestHeaders ?? {}).map(([k, v]) => ` \`${k}: ${v}\``).join('')}, expected ${sc.expectStatus}; ${sc.connections ?? o.connections} connections.`, '');
    const mib = sc.id === '10m';
    out.push(`| server | req/s | ÷ss | ÷raw |${mib ? ' MiB/s |' : ''} p99 ms | ÷ss | ÷raw | RSS MB | ÷ss | ÷raw | startup ms | ÷ss | ÷raw | notes |`);
    out.push(`|---|--:|--:|--:|${mib ? '--:|' : ''}--:|--:|--:|--:|--:|--:|--:|--:|--:|---|`);
    const base = sc.results[BASE];
    const ceil = sc.results[CEILING];
    for (const s of r.servers) {
      const c = sc.results[s.id];
      if (c === undefined) continue;
      if (c.wrong || c.failed) {
        const why = c.wrong ? `wrong answer: ${c.wrong}` : `failed: ${c.failed}`;
        out.push(`| ${s.id} | ${why} |${' – |'.repeat(mib ? 13 : 12)} not timed |`);
        continue;
      }
      const cells = [
        int(c.rps), ratio(c.rps, base?.rps), ratio(c.rps, ceil?.rps),
        ...(mib ? [dec(c.mibps)] : []),
        dec(c.p99ms, 2), ratio(c.p99ms, base?.p99ms), ratio(c.p99ms, ceil?.p99ms),
        dec(c.rssMB), ratio(c.rssMB, base?.rssMB), ratio(c.rssMB, ceil?.rssMB),
        int(c.startupMs), ratio(c.startupMs, base?.startupMs), ratio(c.startupMs, ceil?.startupMs),
        notes(c),
      ];
      out.push(`| ${s.id} | ${cells.join(' | ')} |`);
    }
  }

  const slow = r.slowReaders;
  if (slow !== undefined && Object.keys(slow.results).length > 0) {
    out.push('', `## Slow readers: ${int(slow.clients)} stalled downloads of the 10 MB file`, '');
    out.push(
      `${int(slow.clients)} clients (raw sockets in another process, on the load core) each start \`GET ${slow.path}\` and stop reading after the first bytes; ` +
        `they are held ${slow.holdSeconds} s, and longer until the server's RSS settles (moves by at most 1 MB or 2% of the growth in 2 s). ` +
        'RSS before: after a warm-up of small files and one full 10 MB download. Growth: RSS held − RSS before; per client: growth ÷ clients that stalled; peak: the highest RSS sampled meanwhile (every 250 ms); all stalled after: from the first connection until every client had its first bytes (50 connecting at a time). ' +
        `Descriptors (/proc/<pid>/fd) before, while held, and after the clients are destroyed (polled up to ${dec(slow.fdWaitMs / 1000, 0)} s until within ${slow.fdSlack} of before). Lower is better; ÷ss: divided by ${BASE}'s. The figure per client depends on the number of clients (fixed costs, and what the kernel's buffers take before the writes back up, are spread over them): compare only runs with the same count.`,
      '',
    );
    out.push('| server | RSS before MB | RSS held MB | growth MB | ÷ss | MB per stalled client | ÷ss | peak growth MB | all stalled after s | descriptors before / held / after | notes |');
    out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
    const base = slow.results[BASE];
    for (const s of r.servers) {
      const c = slow.results[s.id];
      if (c === undefined) continue;
      if (c.failed) {
        out.push(`| ${s.id} | failed: ${c.failed} |${' – |'.repeat(8)} |`);
        continue;
      }
      const cells = [
        dec(c.rssBeforeMB), dec(c.rssHeldMB),
        dec(c.growthMB), ratio(c.growthMB, base?.growthMB),
        dec(c.perClientMB, 3), ratio(c.perClientMB, base?.perClientMB),
        dec(c.peakGrowthMB),
        dec(c.firstBytesMs / 1000),
        `${c.fdsBefore} / ${c.fdsHeld} / ${c.fdsAfter}`,
        slowReaderNotes(c, slow.clients).join('; '),
      ];
      out.push(`| ${s.id} | ${cells.join(' | ')} |`);
    }
  }

  const conn = r.connections;
  if (conn !== undefined && Object.keys(conn.results).length > 0) {
    out.push('', '## Connections (1 KB file)', '');
    out.push('Keep-alive connections from 1 to ' + conn.levels.at(-1) + '. Each cell: value (÷ss / ÷raw) at that connection count.', '');
    for (const [what, key, fmt] of /** @type {const} */ ([
      ['req/s', 'rps', int],
      ['p99 ms', 'p99ms', (/** @type {number} */ n) => dec(n, 2)],
      ['RSS MB after the level', 'rssMB', (/** @type {number} */ n) => dec(n)],
    ])) {
      out.push(`**${what}**`, '');
      out.push(`| server | ${conn.levels.map((/** @type {number} */ l) => `c=${l}`).join(' | ')} |`);
      out.push(`|---|${conn.levels.map(() => '--:|').join('')}`);
      for (const s of r.servers) {
        const row = conn.results[s.id];
        if (row === undefined) continue;
        if (row.wrong || row.failed) {
          out.push(`| ${s.id} | ${row.wrong ? `wrong answer: ${row.wrong}` : `failed: ${row.failed}`} |${' – |'.repeat(conn.levels.length - 1)}`);
          continue;
        }
        const cells = conn.levels.map((/** @type {number} */ l) => {
          const c = row.levels[l];
          if (c === undefined) return '–';
          if (c.failed) return `failed: ${c.failed}`;
          const v = c[key];
          const note = key === 'rps' ? notes(c) : '';
          return `${fmt(v)} (${ratioPair(v, conn.results[BASE]?.levels?.[l]?.[key], conn.results[CEILING]?.levels?.[l]?.[key])})${note ? ` ${note}` : ''}`;
        });
        out.push(`| ${s.id} | ${cells.join(' | ')} |`);
      }
      out.push('');
    }
  }

  const growth = r.growth;
  if (growth !== undefined && Object.keys(growth.results).length > 0) {
    out.push('', '## Cost growth: roots of many files', '');
    out.push(`Roots of ${growth.counts.map(int).join(' / ')} files of 256 bytes (1,000 per directory). startup: median of ${o.rounds} start(s), process start → first 200 on /index.html. RSS idle: right after that first answer. spread: ${o.duration} s at ${o.connections} connections cycling over every file of the root, then RSS again.`);
    for (const count of growth.counts) {
      out.push('', `### ${int(count)} files`, '');
      out.push('| server | startup ms | ÷ss | ÷raw | RSS idle MB | ÷ss | ÷raw | spread req/s | ÷ss | ÷raw | RSS after MB | ÷ss | ÷raw | notes |');
      out.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
      const base = growth.results[BASE]?.[count];
      const ceil = growth.results[CEILING]?.[count];
      for (const s of r.servers) {
        const c = growth.results[s.id]?.[count];
        if (c === undefined) continue;
        if (c.failed) {
          out.push(`| ${s.id} | failed: ${c.failed} |${' – |'.repeat(12)} |`);
          continue;
        }
        const cells = [
          int(c.startupMs), ratio(c.startupMs, base?.startupMs), ratio(c.startupMs, ceil?.startupMs),
          dec(c.rssIdleMB), ratio(c.rssIdleMB, base?.rssIdleMB), ratio(c.rssIdleMB, ceil?.rssIdleMB),
          c.wrong ? `wrong answer: ${c.wrong}` : int(c.spread?.rps), ratio(c.spread?.rps, base?.spread?.rps), ratio(c.spread?.rps, ceil?.spread?.rps),
          dec(c.rssAfterMB), ratio(c.rssAfterMB, base?.rssAfterMB), ratio(c.rssAfterMB, ceil?.rssAfterMB),
          c.spread ? notes(c.spread) : '',
        ];
        out.push(`| ${s.id} | ${cells.join(' | ')} |`);
      }
    }
  }
  out.push('', '![req/s ÷ serve-static](ratios.svg)', '');
  return `${out.join('\n')}\n`;
}

/**
 * The variants of ours against ours, same run and root (the root has no sidecars): one line per variant for the
 * 1 KB and 304 rows, then every scenario run. Nothing when ours or every variant is missing from the run.
 * @param {any} r results
 * @returns {string[]}
 */
export function renderVariants(r) {
  const scenarios = (r.scenarios ?? []).filter((/** @type {any} */ sc) => sc.results[OURS] !== undefined);
  const variants = VARIANTS.filter((v) => scenarios.some((/** @type {any} */ sc) => sc.results[v.id] !== undefined));
  if (variants.length === 0) return [];
  const value = (/** @type {any} */ sc, /** @type {any} */ c) => (c === undefined || c.wrong || c.failed ? undefined : sc.id === '10m' ? c.mibps : c.rps);
  const out = ['', '## Variants of ours, against ours', ''];
  out.push(
    `Same run, same root as \`${OURS}\` (brisk-static, default options, Connect door on node:http); the root has no sidecars. ` +
      '÷ours: req/s (10 MB: MiB/s) divided by ours\'; ÷ss: by serve-static\'s. Rounds interleave the servers, so drift on the machine spreads over all of them; a few percent either way is still noise.',
    '',
  );
  for (const v of variants) {
    const parts = ['1k', '304'].flatMap((id) => {
      const sc = scenarios.find((/** @type {any} */ s) => s.id === id);
      if (sc === undefined) return [];
      const c = sc.results[v.id];
      const mine = value(sc, c);
      const shown = mine === undefined ? (c?.wrong ? 'wrong answer' : c?.failed ? 'failed' : '–') : ratio(mine, value(sc, sc.results[OURS]));
      // The ratio is as good as the worse of its two figures.
      const ours = sc.results[OURS];
      const note = [c && !c.wrong && !c.failed ? notes(c) : '', ours.foreignCpu >= NOISY ? `ours disturbed: ${int(ours.foreignCpu)}% CPU elsewhere` : '']
        .filter(Boolean)
        .join('; ');
      return [`${SIZES[id] ?? id} ${shown}${note ? ` (${note})` : ''}`];
    });
    if (parts.length === 0) continue;
    out.push(`- ${v.question}: ${parts.join(', ')}${v.target === undefined ? '' : ` (target ≥ ${v.target.toFixed(2)}×)`}`);
  }
  out.push('', 'Each cell: value (÷ours / ÷ss).', '');
  out.push(`| server | ${scenarios.map((/** @type {any} */ sc) => (sc.id === '10m' ? '10 MB MiB/s' : `${SIZES[sc.id] ?? sc.id} req/s`)).join(' | ')} |`);
  out.push(`|---|${scenarios.map(() => '--:|').join('')}`);
  for (const id of [OURS, ...variants.map((v) => v.id)]) {
    const cells = scenarios.map((/** @type {any} */ sc) => {
      const c = sc.results[id];
      if (c === undefined) return '–';
      if (c.wrong || c.failed) return c.wrong ? 'wrong answer' : 'failed';
      const v = value(sc, c);
      return `${sc.id === '10m' ? dec(v) : int(v)} (${ratioPair(v, value(sc, sc.results[OURS]), value(sc, sc.results[BASE]))})`;
    });
    out.push(`| ${id} | ${cells.join(' | ')} |`);
  }
  return out;
}

/** Unexpected statuses, socket errors, and the spread of the rounds when it is wide. @param {any} c */
function notes(c) {
  const parts = [];
  if (c.unexpectedStatus > 0) parts.push(`${int(c.unexpectedStatus)} unexpected statuses`);
  if (c.socketErrors > 0) parts.push(`${int(c.socketErrors)} socket errors`);
  if (c.foreignCpu >= NOISY) parts.push(`disturbed: other processes used up to ${int(c.foreignCpu)}% CPU`);
  const rps = (c.rounds ?? []).map((/** @type {any} */ x) => x.rps);
  if (rps.length > 1) {
    const spread = (Math.max(...rps) - Math.min(...rps)) / c.rps;
    if (spread > 0.25) parts.push(`rounds ${int(Math.min(...rps))}–${int(Math.max(...rps))}`);
  }
  return parts.join('; ');
}

/** What a cell's figures do not say by themselves. @param {any} cell @param {number} clients @returns {string[]} */
export function slowReaderNotes(cell, clients) {
  const notes = [];
  if (cell.stalled < clients) notes.push(`${cell.stalled} of ${clients} clients stalled (${Object.entries(cell.errors).map(([k, v]) => `${v}× ${k}`).join(', ')})`);
  if (!cell.settled) notes.push(`RSS still moving after ${Math.round(cell.heldSeconds)} s`);
  if (cell.closedEarly > 0) notes.push(`server closed ${cell.closedEarly} stalled connections`);
  if (!cell.fdsBack) notes.push(`descriptors not back: ${cell.fdsAfter - cell.fdsBefore} more than before`);
  return notes;
}

/** The highest CPU % used by other processes during any timed run. @param {any} r */
function maxForeignCpu(r) {
  let worst = 0;
  const visit = (/** @type {any} */ x) => {
    if (x === null || typeof x !== 'object') return;
    if (typeof x.foreignCpu === 'number') worst = Math.max(worst, x.foreignCpu);
    for (const v of Object.values(x)) visit(v);
  };
  visit(r);
  return worst;
}

/** Median startup per server over all scenario launches. @param {any[]} scenarios */
function medianStartups(scenarios) {
  /** @type {Record<string, number[]>} */
  const all = {};
  for (const sc of scenarios) {
    for (const [id, c] of Object.entries(sc.results)) {
      if (/** @type {any} */ (c).startupMs !== undefined) (all[id] ??= []).push(/** @type {any} */ (c).startupMs);
    }
  }
  return Object.fromEntries(Object.entries(all).map(([id, v]) => [id, median(v)]));
}

/** @param {number[]} values */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? /** @type {number} */ (s[mid]) : (/** @type {number} */ (s[mid - 1]) + /** @type {number} */ (s[mid])) / 2;
}

/** Grouped columns: req/s ÷ serve-static per scenario (and connection count), one colour per server. @param {any} r */
export function renderSvg(r) {
  /** @type {{ label: string, values: Record<string, number> }[]} */
  const groups = [];
  for (const sc of r.scenarios ?? []) {
    const base = sc.results[BASE]?.rps;
    /** @type {Record<string, number>} */
    const values = {};
    for (const [id, c] of Object.entries(sc.results)) {
      const cell = /** @type {any} */ (c);
      if (base > 0 && cell.rps > 0) values[id] = cell.rps / base;
    }
    groups.push({ label: SIZES[sc.id] ?? sc.id, values });
  }
  const conn = r.connections;
  for (const level of conn?.levels ?? []) {
    const base = conn.results[BASE]?.levels?.[level]?.rps;
    /** @type {Record<string, number>} */
    const values = {};
    for (const [id, row] of Object.entries(conn.results)) {
      const v = /** @type {any} */ (row).levels?.[level]?.rps;
      if (base > 0 && v > 0) values[id] = v / base;
    }
    groups.push({ label: `1 KB c=${level}`, values });
  }
  const ids = r.servers.map((/** @type {any} */ s) => s.id).filter((/** @type {string} */ id) => groups.some((g) => g.values[id] !== undefined));
  const bar = 11;
  const gap = 18;
  const left = 56;
  const top = 60;
  const plotH = 340;
  const groupW = ids.length * bar + gap;
  const width = Math.max(760, left + Math.max(1, groups.length) * groupW + 20);
  const height = top + plotH + 40;
  // log2 scale around 1×: 2× up and 0.5× down are the same height; bars grow from the 1× line.
  const all = groups.flatMap((g) => Object.values(g.values));
  const hi = Math.max(1, Math.ceil(Math.log2(Math.max(2, ...all))));
  const lo = Math.min(-1, Math.floor(Math.log2(Math.min(0.5, ...all))));
  const y = (/** @type {number} */ v) => top + ((hi - Math.log2(v)) / (hi - lo)) * plotH;
  const esc = (/** @type {string} */ s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const svg = [];
  svg.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  svg.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  svg.push(`<text x="${left}" y="18" font-size="14" font-weight="bold">req/s ÷ serve-static, same run, log scale (above the dashed line: faster) — ${esc(r.meta.date.slice(0, 10))}, ${esc(r.meta.load.name)}</text>`);
  ids.forEach((/** @type {string} */ id, /** @type {number} */ i) => {
    const x = left + i * 95;
    svg.push(`<rect x="${x}" y="30" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 14}" y="39">${esc(id)}</text>`);
  });
  for (let e = lo; e <= hi; e++) {
    const v = 2 ** e;
    const label = v >= 1 ? `${v}×` : `1/${1 / v}×`;
    svg.push(`<line x1="${left}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${label}</text>`);
  }
  svg.push(`<line x1="${left}" x2="${width - 10}" y1="${y(1)}" y2="${y(1)}" stroke="#444" stroke-dasharray="4 3"/>`);
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + gap / 2;
    ids.forEach((/** @type {string} */ id, /** @type {number} */ i) => {
      const v = g.values[id];
      if (v === undefined) return;
      const x = x0 + i * bar;
      const y0 = Math.min(y(v), y(1));
      const h = Math.max(1, Math.abs(y(v) - y(1)));
      svg.push(`<rect x="${x}" y="${y0.toFixed(1)}" width="${bar - 2}" height="${h.toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(id)} ${esc(g.label)}: ${v.toFixed(2)}×</title></rect>`);
    });
    svg.push(`<text x="${x0 + (ids.length * bar) / 2}" y="${top + plotH + 18}" text-anchor="middle">${esc(g.label)}</text>`);
  });
  svg.push('</svg>');
  return `${svg.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ?? fileURLToPath(new URL('./results/latest.json', import.meta.url));
  writeReport(JSON.parse(readFileSync(file, 'utf8')), dirname(file));
}
