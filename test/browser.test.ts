import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import etag from 'etag';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import referenceServeStatic from 'serve-static';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileThread } from '../src/file-thread.js';
import { serveStatic } from '../src/index.js';
import { launchChromium, watchPage, withPage } from './chromium.js';
import { DOORS } from './doors.js';
import { FIXTURES, tempDir, type TestServer } from './helpers.js';

/**
 * A real browser against a site served by the middleware: Debian's Chromium (apt, `.ci/run`), driven by
 * playwright-core, never a downloaded browser. The same site is served by serve-static under `/control/` in the
 * same app, so every expectation is shown to be the ordinary one.
 */

/** Files up to this size come back from the file thread with their bytes; larger ones are streamed. */
const ONE_HOP_LIMIT = 64 * 1024;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The playwright-core package's own TrueType font (a devDependency, so present wherever the tests run). */
function findTrueType(): Buffer {
  const base = join(import.meta.dirname, '..', 'node_modules', 'playwright-core', 'lib');
  const found = readdirSync(base, { recursive: true, encoding: 'utf8' }).find((name) => name.endsWith('.ttf'));
  if (found === undefined) throw new Error(`no .ttf under ${base}`);
  return readFileSync(join(base, found));
}

/** Known table tags of WOFF2's table directory (its index is the tag's code). */
const WOFF2_TAGS = [
  'cmap', 'head', 'hhea', 'hmtx', 'maxp', 'name', 'OS/2', 'post', 'cvt ', 'fpgm', 'glyf', 'loca', 'prep', 'CFF ',
  'VORG', 'EBDT', 'EBLC', 'gasp', 'hdmx', 'kern', 'LTSH', 'PCLT', 'VDMX', 'vhea', 'vmtx', 'BASE', 'GDEF', 'GPOS',
  'GSUB', 'EBSC', 'JSTF', 'MATH', 'CBDT', 'CBLC', 'COLR', 'CPAL', 'SVG ', 'sbix', 'acnt', 'avar', 'bdat', 'bloc',
  'bsln', 'cvar', 'fdsc', 'feat', 'fmtx', 'fvar', 'gvar', 'hsty', 'just', 'lcar', 'mort', 'morx', 'opbd', 'prop',
  'trak', 'Zapf', 'Silf', 'Glat', 'Gloc', 'Feat', 'Sill',
];

function base128(value: number): Buffer {
  const bytes = [value & 0x7f];
  for (let rest = value >>> 7; rest > 0; rest >>>= 7) bytes.unshift(0x80 | (rest & 0x7f));
  return Buffer.from(bytes);
}

/**
 * A real WOFF2 font made from a TrueType one: every table untransformed (glyf and loca with the null
 * transform, version 3), all of them in one Brotli stream, as the W3C WOFF2 format defines it.
 */
function woff2From(sfnt: Buffer): Buffer {
  const count = sfnt.readUInt16BE(4);
  const tables: { tag: string; data: Buffer }[] = [];
  for (let i = 0; i < count; i++) {
    const at = 12 + 16 * i;
    const offset = sfnt.readUInt32BE(at + 8);
    tables.push({ tag: sfnt.toString('latin1', at, at + 4), data: sfnt.subarray(offset, offset + sfnt.readUInt32BE(at + 12)) });
  }
  tables.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  const directory = Buffer.concat(
    tables.map(({ tag, data }) => {
      const known = WOFF2_TAGS.indexOf(tag);
      const transform = tag === 'glyf' || tag === 'loca' ? 3 << 6 : 0;
      const flags = Buffer.from([(known === -1 ? 63 : known) | transform]);
      return Buffer.concat([flags, known === -1 ? Buffer.from(tag, 'latin1') : Buffer.alloc(0), base128(data.length)]);
    }),
  );
  const compressed = brotliCompressSync(Buffer.concat(tables.map(({ data }) => data)), {
    params: { [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_FONT, [zlib.BROTLI_PARAM_QUALITY]: 11 },
  });
  const sfntSize = 12 + 16 * count + tables.reduce((sum, { data }) => sum + Math.ceil(data.length / 4) * 4, 0);
  // The file ends on a 4-byte boundary (decoders check it).
  const padding = Buffer.alloc((4 - ((48 + directory.length + compressed.length) % 4)) % 4);
  const header = Buffer.alloc(48);
  header.write('wOF2', 0, 'latin1');
  header.writeUInt32BE(sfnt.readUInt32BE(0), 4);
  header.writeUInt32BE(48 + directory.length + compressed.length + padding.length, 8);
  header.writeUInt16BE(count, 12);
  header.writeUInt32BE(sfntSize, 16);
  header.writeUInt32BE(compressed.length, 20);
  header.writeUInt16BE(1, 24);
  return Buffer.concat([header, directory, compressed, padding]);
}

/** A mono 16-bit PCM WAV of `seconds` of a 440 Hz tone. */
function wav(seconds: number, rate = 44_100): Buffer {
  const samples = Math.round(seconds * rate);
  const out = Buffer.alloc(44 + samples * 2);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + samples * 2, 4);
  out.write('WAVEfmt ', 8, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) out.writeInt16LE(Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 8000), 44 + i * 2);
  return out;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>brisk-static in Chromium</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="style.css">
<script type="module" src="app.js"></script>
</head>
<body>
<p class="iconic">&#xea60;</p>
<img id="logo" src="logo.png" alt="logo">
<audio id="sound" src="tone.wav" preload="auto"></audio>
<button id="play" type="button">play</button>
<dl>
<dt>module</dt><dd id="module"></dd>
<dt>json</dt><dd id="json"></dd>
<dt>image</dt><dd id="image"></dd>
<dt>font</dt><dd id="font"></dd>
<dt>color</dt><dd id="color"></dd>
<dt>preloaded</dt><dd id="preloaded"></dd>
<dt>ready</dt><dd id="ready"></dd>
<dt>played</dt><dd id="played"></dd>
<dt>done</dt><dd id="done"></dd>
</dl>
</body>
</html>
`;

const STYLE = `@font-face {
  font-family: "Brisk";
  src: url("font.woff2") format("woff2");
}
body { color: rgb(1, 2, 3); }
.iconic { font-family: "Brisk", monospace; }
`;

const APP = `import { greeting } from './lib.js';

const set = (id, value) => { document.getElementById(id).textContent = String(value); };
set('module', greeting);

const data = await (await fetch('data.json')).json();
set('json', data.value);

const logo = document.getElementById('logo');
await logo.decode();
set('image', logo.naturalWidth + 'x' + logo.naturalHeight);

await document.fonts.load('16px Brisk');
await document.fonts.ready;
const face = [...document.fonts].find((font) => font.family.replaceAll('"', '') === 'Brisk');
set('font', face ? face.status : 'missing');
set('color', getComputedStyle(document.body).color);

const sound = document.getElementById('sound');
if (sound.readyState < 4) await new Promise((done) => sound.addEventListener('canplaythrough', done, { once: true }));
set('preloaded', sound.readyState + ' ' + sound.duration.toFixed(3));

// Playing needs a user gesture: the test clicks.
document.getElementById('play').addEventListener('click', async () => {
  const ended = new Promise((done) => sound.addEventListener('ended', done, { once: true }));
  await sound.play();
  await ended;
  set('played', sound.currentTime.toFixed(3));
  set('done', 'yes');
});
set('ready', 'yes');
`;

const LIB = `export const greeting = 'hello from lib.js';\n`;

/** Each file of the site, its bytes and the Content-Type both middlewares must send. */
interface SiteFile {
  readonly bytes: Buffer;
  readonly type: string;
}

/** What the origin saw, one entry per finished response. */
interface Seen {
  readonly path: string;
  readonly status: number;
  readonly range: string | undefined;
  readonly ifNoneMatch: string | undefined;
  readonly etag: string | undefined;
  readonly contentType: string | undefined;
  readonly contentRange: string | undefined;
}

/** What Chromium reported: problems of any kind, and every response with its body where it has one. */
interface Watched {
  readonly problems: string[];
  readonly responses: { path: string; status: number; type: string | undefined; body: Promise<Buffer | null> }[];
}

function watch(page: Page, base: string): Watched {
  const responses: Watched['responses'] = [];
  const { problems } = watchPage(page, {
    consoleProblems: true,
    onResponse: (response) => {
      const path = new URL(response.url()).pathname;
      responses.push({
        path: path === base ? 'index.html' : path.slice(base.length),
        status: response.status(),
        type: response.headers()['content-type'],
        body: response.body().catch(() => null),
      });
    },
  });
  return { problems, responses };
}

/** Loads the page, plays the sound (a click is the user gesture playing needs), returns the page's results. */
async function run(page: Page, load: () => Promise<unknown>): Promise<Record<string, string>> {
  await load();
  await page.waitForSelector('#ready:text("yes")', { timeout: 15_000 });
  await page.click('#play');
  await page.waitForSelector('#done:text("yes")', { timeout: 15_000 });
  const pairs = await page.$$eval('dd', (items) => items.map((item) => [item.id, item.textContent ?? '']));
  return Object.fromEntries(pairs) as Record<string, string>;
}

/** A moment for what the file thread wrote to its stderr to reach ours. */
function settle(): Promise<void> {
  return new Promise((done) => setTimeout(done, 100));
}

function byName<T extends { path: string }>(entries: readonly T[]): Record<string, T[]> {
  const grouped: Record<string, T[]> = {};
  for (const entry of entries) (grouped[entry.path] ??= []).push(entry);
  return grouped;
}

describe('a site in Chromium (Debian chromium through playwright-core)', () => {
  const site = tempDir();
  const png = readFileSync(join(FIXTURES, 'logo.png'));
  const files: Record<string, SiteFile> = {
    'index.html': { bytes: Buffer.from(PAGE), type: 'text/html; charset=utf-8' },
    'style.css': { bytes: Buffer.from(STYLE), type: 'text/css; charset=utf-8' },
    'app.js': { bytes: Buffer.from(APP), type: 'text/javascript; charset=utf-8' },
    'lib.js': { bytes: Buffer.from(LIB), type: 'text/javascript; charset=utf-8' },
    'data.json': { bytes: Buffer.from(JSON.stringify({ value: 'json from data.json' })), type: 'application/json; charset=utf-8' },
    'logo.png': { bytes: png, type: 'image/png' },
    'font.woff2': { bytes: woff2From(findTrueType()), type: 'font/woff2' },
    'tone.wav': { bytes: wav(1), type: 'audio/wav' },
  };
  const names = Object.keys(files).sort();
  /** What the page must show: the PNG's own dimensions (IHDR), a 1 s sound preloaded whole and played to its end. */
  const expected = {
    module: 'hello from lib.js',
    json: 'json from data.json',
    image: `${String(png.readUInt32BE(16))}x${String(png.readUInt32BE(20))}`,
    font: 'loaded',
    color: 'rgb(1, 2, 3)',
    preloaded: '4 1.000',
    ready: 'yes',
    played: '1.000',
    done: 'yes',
  };
  const seen: Seen[] = [];
  /**
   * Process warnings and whatever reaches stderr while the tests run: the file thread's own warnings reach
   * the main thread only as stderr text (a worker's stderr is piped into the process's).
   */
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(`${warning.name}: ${warning.message}`);
  };
  const stderrWrite = process.stderr.write;
  let server: Server;
  let origin: string;
  let browser: Browser;

  beforeAll(async () => {
    for (const [name, { bytes }] of Object.entries(files)) writeFileSync(join(site.path, name), bytes);
    const app = express();
    app.use((req, res, next) => {
      res.on('finish', () => {
        const path = req.originalUrl.replace(/^\/control\//, '/');
        seen.push({
          path: path === '/' ? 'index.html' : path.slice(1),
          status: res.statusCode,
          range: req.headers.range,
          ifNoneMatch: req.headers['if-none-match'],
          etag: res.getHeader('etag') as string | undefined,
          contentType: res.getHeader('content-type') as string | undefined,
          contentRange: res.getHeader('content-range') as string | undefined,
        });
      });
      next();
    });
    app.use('/control', referenceServeStatic(site.path));
    app.use(serveStatic(site.path));
    await new Promise<void>((done) => {
      server = app.listen(0, '127.0.0.1', () => done());
    });
    const address = server.address();
    if (address === null || typeof address !== 'object') throw new Error('no address');
    origin = `http://127.0.0.1:${String(address.port)}`;
    process.on('warning', onWarning);
    process.stderr.write = function (this: typeof process.stderr, chunk: unknown, ...rest: unknown[]): boolean {
      warnings.push(`stderr: ${String(chunk)}`);
      return (stderrWrite as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof process.stderr.write;
    await startFileThread()?.ready;
    browser = await launchChromium();
  });

  afterAll(async () => {
    process.off('warning', onWarning);
    process.stderr.write = stderrWrite;
    await browser?.close();
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    }
    site.remove();
  });

  it('has files on both sides of the one-hop limit: the file thread answers small ones whole, larger ones are streamed', () => {
    expect(files['font.woff2']?.bytes.length).toBeLessThanOrEqual(ONE_HOP_LIMIT);
    expect(files['tone.wav']?.bytes.length).toBeGreaterThan(ONE_HOP_LIMIT);
    expect(startFileThread()).not.toBeNull();
  });

  describe.each([
    ['serve-static (control)', '/control/'],
    ['brisk-static', '/'],
  ])('%s', (name, base) => {
    const ours = name === 'brisk-static';

    it('loads the module graph, CSS, image, font, JSON and audio with the right types and no errors', async () => {
      const answered = startFileThread()?.answered ?? 0;
      warnings.length = 0;
      seen.length = 0;
      await withPage(browser, async (page) => {
        const watched = watch(page, base);
        const values = await run(page, () => page.goto(origin + base));

        expect(values).toEqual(expected);
        expect(watched.problems).toEqual([]);

        // What Chromium received: each file once, its type, its exact bytes; the sound as a 206 for `bytes=0-`.
        const received = byName(watched.responses);
        expect(Object.keys(received).sort()).toEqual(names);
        for (const file of names) {
          const [response, ...more] = received[file] ?? [];
          expect(more, file).toEqual([]);
          expect(response?.status, file).toBe(file === 'tone.wav' ? 206 : 200);
          expect(response?.type, file).toBe(files[file]?.type);
          const body = await response?.body;
          if (body !== null) expect(sha256(body ?? Buffer.alloc(0)), file).toBe(sha256(files[file]?.bytes ?? Buffer.alloc(0)));
        }
        // Bodies Chromium keeps for these, at least, so the comparison above cannot be vacuous.
        for (const file of ['index.html', 'app.js', 'lib.js', 'style.css', 'data.json', 'logo.png', 'font.woff2']) {
          expect(await received[file]?.[0]?.body, file).not.toBeNull();
        }

        // What the origin answered: the same, with the ETag serve-static builds from the file's stats.
        const answers = byName(seen);
        expect(Object.keys(answers).sort()).toEqual(names);
        for (const file of names) {
          const [answer, ...more] = answers[file] ?? [];
          expect(more, file).toEqual([]);
          expect(answer?.status, file).toBe(file === 'tone.wav' ? 206 : 200);
          expect(answer?.contentType, file).toBe(files[file]?.type);
          expect(answer?.etag, file).toBe(etag(statSync(join(site.path, file))));
        }
        const sound = files['tone.wav']?.bytes.length ?? 0;
        expect(answers['tone.wav']?.[0]?.range).toBe('bytes=0-');
        expect(answers['tone.wav']?.[0]?.contentRange).toBe(`bytes 0-${String(sound - 1)}/${String(sound)}`);

        if (ours) expect(startFileThread()?.answered ?? 0).toBeGreaterThan(answered);
        await settle();
        expect(warnings).toEqual([]);
      });
    }, 45_000);

    it('revalidates on reload: 304s for every file but the sound, which is fetched again by Range', async () => {
      warnings.length = 0;
      seen.length = 0;
      await withPage(browser, async (page) => {
        const watched = watch(page, base);
        expect(await run(page, () => page.goto(origin + base))).toEqual(expected);
        const first = Object.fromEntries(seen.splice(0).map((entry) => [entry.path, entry.etag]));
        watched.responses.length = 0;

        // With `max-age=0`, a reload revalidates the page and each subresource with `If-None-Match`.
        const answered = startFileThread()?.answered ?? 0;
        expect(await run(page, () => page.reload())).toEqual(expected);
        expect(watched.problems).toEqual([]);

        const answers = byName(seen);
        expect(Object.keys(answers).sort()).toEqual(names);
        for (const file of names) {
          const [answer, ...more] = answers[file] ?? [];
          expect(more, file).toEqual([]);
          if (file === 'tone.wav') {
            // Chromium's media loader asks for the sound again, unconditionally, by Range.
            expect(answer?.status, file).toBe(206);
            expect(answer?.range, file).toBe('bytes=0-');
            expect(answer?.ifNoneMatch, file).toBeUndefined();
          } else {
            expect(answer?.status, file).toBe(304);
            expect(answer?.ifNoneMatch, file).toBe(first[file]);
            expect(answer?.etag, file).toBe(first[file]);
          }
        }
        // Chromium reports the revalidated subresources as 304s too (the page itself and fetch() see the cached 200).
        const received = byName(watched.responses);
        for (const file of ['style.css', 'app.js', 'lib.js', 'logo.png', 'font.woff2']) {
          expect(received[file]?.map((response) => response.status), file).toEqual([304]);
        }
        if (ours) expect(startFileThread()?.answered ?? 0).toBeGreaterThan(answered);
        await settle();
        expect(warnings).toEqual([]);
      });
    }, 45_000);
  });
});

const COMPRESSED_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>not run yet</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="style.css">
<script type="module" src="app.js"></script>
</head>
<body>
<img id="logo" src="logo.png" alt="logo">
<p id="result"></p>
<p id="json"></p>
<p id="done"></p>
</body>
</html>
`;

/** Long enough that the sidecars are real compressions worth sending (a few KiB each). */
const COMPRESSED_STYLE = `body { color: rgb(7, 8, 9); }
${Array.from({ length: 120 }, (_, i) => `.rule-${String(i)} { margin: ${String(i)}px; padding: ${String(i % 7)}px; }`).join('\n')}
`;

const COMPRESSED_APP = `const words = [${Array.from({ length: 300 }, (_, i) => `'word-${String(i)}'`).join(', ')}];
document.getElementById('result').textContent = 'app ran with ' + words.length + ' words';
document.title = 'app.js ran';
const data = await (await fetch('data.json')).json();
document.getElementById('json').textContent = data.value;
await document.getElementById('logo').decode();
document.getElementById('done').textContent = 'yes';
`;

/** A response as Chromium reported it. */
interface Reported {
  readonly status: number;
  readonly headers: Promise<Record<string, string>>;
  readonly body: Promise<Buffer | null>;
  /** The request's headers as Chromium sent them. */
  readonly sent: Promise<Record<string, string>>;
}

/**
 * The same browser against a page whose JS and CSS have `.br` and `.gz` sidecars, served with
 * `precompressed: true` through each door: Chromium gets the brotli copies, decodes them, and the page works.
 */
describe('precompressed sidecars in Chromium (Debian chromium through playwright-core)', () => {
  const site = tempDir();
  const originals: Record<string, Buffer> = {
    'index.html': Buffer.from(COMPRESSED_PAGE),
    'style.css': Buffer.from(COMPRESSED_STYLE),
    'app.js': Buffer.from(COMPRESSED_APP),
    'data.json': Buffer.from(JSON.stringify({ value: 'json without a sidecar' })),
    'logo.png': readFileSync(join(FIXTURES, 'logo.png')),
  };
  const withSidecars = ['app.js', 'style.css'];
  const withoutSidecars = ['index.html', 'data.json', 'logo.png'];
  const sidecars: Record<string, Buffer> = {};
  let browser: Browser;

  beforeAll(async () => {
    // Originals an hour old, sidecars a minute newer: fresh by the mtime rule, whatever the clock's resolution.
    const time = Math.floor(Date.now() / 1000) - 3600;
    for (const [name, bytes] of Object.entries(originals)) {
      writeFileSync(join(site.path, name), bytes);
      utimesSync(join(site.path, name), time, time);
    }
    for (const name of withSidecars) {
      const bytes = originals[name] ?? Buffer.alloc(0);
      sidecars[`${name}.br`] = brotliCompressSync(bytes);
      sidecars[`${name}.gz`] = gzipSync(bytes);
    }
    for (const [name, bytes] of Object.entries(sidecars)) {
      writeFileSync(join(site.path, name), bytes);
      utimesSync(join(site.path, name), time + 60, time + 60);
    }
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    site.remove();
  });

  it('has sidecars that are smaller than their files', () => {
    for (const name of withSidecars) {
      expect(sidecars[`${name}.br`]?.length, name).toBeLessThan(originals[name]?.length ?? 0);
      expect(sidecars[`${name}.gz`]?.length, name).toBeLessThan(originals[name]?.length ?? 0);
    }
  });

  describe.each(DOORS.map((door) => [door.name, door] as const))('%s door', (_, door) => {
    let server: TestServer;
    beforeAll(async () => {
      server = await door.serve(site.path, { precompressed: true });
    });
    afterAll(() => server.close());

    /** Each response Chromium reported, by file name: its headers, its (decoded) body, the request's headers. */
    function record(page: Page): { problems: string[]; responses: Map<string, Reported[]> } {
      const responses = new Map<string, Reported[]>();
      const { problems } = watchPage(page, {
        consoleProblems: true,
        onResponse: (response) => {
          const path = new URL(response.url()).pathname;
          const name = path === '/' ? 'index.html' : path.slice(1);
          const list = responses.get(name) ?? [];
          list.push({
            status: response.status(),
            headers: response.allHeaders(),
            body: response.body().catch(() => null),
            sent: response.request().allHeaders(),
          });
          responses.set(name, list);
        },
      });
      return { problems, responses };
    }

    it('runs the page from br sidecars; files without sidecars go out plain and without Vary', async () => {
      await withPage(browser, async (page) => {
        const { problems, responses } = record(page);
        await page.goto(`${server.url}/`);
        await page.waitForSelector('#done:text("yes")', { timeout: 15_000 });

        expect(await page.title()).toBe('app.js ran');
        expect(await page.textContent('#result')).toBe('app ran with 300 words');
        expect(await page.textContent('#json')).toBe('json without a sidecar');
        expect(await page.evaluate('getComputedStyle(document.body).color')).toBe('rgb(7, 8, 9)');
        expect(problems).toEqual([]);
        expect([...responses.keys()].sort()).toEqual([...withSidecars, ...withoutSidecars].sort());

        for (const name of withSidecars) {
          const [response, ...more] = responses.get(name) ?? [];
          expect(more, name).toEqual([]);
          expect(response?.status, name).toBe(200);
          const sent = await response?.sent;
          expect(sent?.['accept-encoding'], name).toContain('br');
          const headers = (await response?.headers) ?? {};
          expect(headers['content-encoding'], name).toBe('br');
          expect(headers['content-length'], name).toBe(String(sidecars[`${name}.br`]?.length));
          expect(headers['content-type'], name).toBe(name === 'app.js' ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8');
          expect(headers['vary']?.toLowerCase().split(/\s*,\s*/), name).toContain('accept-encoding');
          // Chromium decoded the brotli stream once, to the file itself.
          const body = await response?.body;
          expect(body, name).not.toBeNull();
          expect(sha256(body ?? Buffer.alloc(0)), name).toBe(sha256(originals[name] ?? Buffer.alloc(0)));
        }
        for (const name of withoutSidecars) {
          const [response, ...more] = responses.get(name) ?? [];
          expect(more, name).toEqual([]);
          expect(response?.status, name).toBe(200);
          const headers = (await response?.headers) ?? {};
          expect(headers['content-encoding'], name).toBeUndefined();
          expect(headers['vary'], name).toBeUndefined();
          expect(headers['content-length'], name).toBe(String(originals[name]?.length));
          const body = await response?.body;
          expect(body, name).not.toBeNull();
          expect(sha256(body ?? Buffer.alloc(0)), name).toBe(sha256(originals[name] ?? Buffer.alloc(0)));
        }
      });
    }, 45_000);

    it('revalidates the br copies on reload: 304 with Vary, by the br ETag', async () => {
      await withPage(browser, async (page) => {
        const { problems, responses } = record(page);
        await page.goto(`${server.url}/`);
        await page.waitForSelector('#done:text("yes")', { timeout: 15_000 });
        const tags: Record<string, string | undefined> = {};
        for (const name of withSidecars) tags[name] = (await responses.get(name)?.[0]?.headers)?.['etag'];
        responses.clear();

        await page.reload();
        await page.waitForSelector('#done:text("yes")', { timeout: 15_000 });
        expect(await page.title()).toBe('app.js ran');
        expect(await page.evaluate('getComputedStyle(document.body).color')).toBe('rgb(7, 8, 9)');
        expect(problems).toEqual([]);
        for (const name of withSidecars) {
          const [response, ...more] = responses.get(name) ?? [];
          expect(more, name).toEqual([]);
          expect(tags[name], name).toMatch(/-br"$/);
          expect(response?.status, name).toBe(304);
          expect((await response?.sent)?.['if-none-match'], name).toBe(tags[name]);
          const headers = (await response?.headers) ?? {};
          expect(headers['etag'], name).toBe(tags[name]);
          expect(headers['vary']?.toLowerCase().split(/\s*,\s*/), name).toContain('accept-encoding');
        }
      });
    }, 45_000);
  });
});
