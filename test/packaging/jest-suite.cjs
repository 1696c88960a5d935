'use strict';
// A Jest suite as a CommonJS project writes one: require(), supertest, an Express 4 app. Run by Jest 29 and
// Jest 30 from test/packaging.test.ts against the packed package, with serve-static as the control: both
// middlewares must pass the same tests.
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const path = require('node:path');
const express = require('express');
const request = require('supertest');
const serveStatic = require('brisk-static');
const referenceServeStatic = require('serve-static');

const publicDir = path.join(__dirname, '..', 'public');
const hello = readFileSync(path.join(publicDir, 'hello.txt'), 'utf8');
const big = readFileSync(path.join(publicDir, 'big.bin'));
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Collects a binary body (superagent leaves bodies of unknown types unparsed). */
function binary(res, callback) {
  const chunks = [];
  res.on('data', (chunk) => chunks.push(chunk));
  res.on('end', () => callback(null, Buffer.concat(chunks)));
}

test("require('brisk-static') is the middleware factory from the CommonJS build, with .serveStatic and .default", () => {
  expect(typeof serveStatic).toBe('function');
  expect(serveStatic.serveStatic).toBe(serveStatic);
  expect(serveStatic.default).toBe(serveStatic);
  expect(require.resolve('brisk-static')).toBe(path.join(__dirname, '..', 'node_modules', 'brisk-static', 'dist', 'index.cjs'));
});

describe.each([
  ['brisk-static', serveStatic],
  ['serve-static', referenceServeStatic],
])('%s in Express 4', (name, factory) => {
  const app = express();
  app.use(factory(publicDir));
  app.use((req, res) => res.status(404).type('text/plain').send('app 404'));

  beforeAll(async () => {
    // brisk-static's file thread starts 100 ms after the first request; the tests below then go through it.
    expect((await request(app).get('/hello.txt')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
  });

  test('200 with the file, its type, length and validators', async () => {
    const res = await request(app).get('/hello.txt');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(hello)));
    expect(res.headers['etag']).toMatch(/^W\/"[0-9a-f]+-[0-9a-zA-Z+/]+"$/);
    expect(res.headers['last-modified']).toMatch(/ GMT$/);
    expect(res.text).toBe(hello);
  });

  test('304 for a matching If-None-Match, without a body', async () => {
    const first = await request(app).get('/hello.txt');
    const res = await request(app).get('/hello.txt').set('If-None-Match', first.headers['etag']);
    expect(res.status).toBe(304);
    expect(res.headers['etag']).toBe(first.headers['etag']);
    expect(res.headers['content-length']).toBeUndefined();
    expect(res.text).toBe('');
  });

  test('a miss falls through to the next middleware', async () => {
    const res = await request(app).get('/missing.txt');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.text).toBe('app 404');
  });

  test('a file over 64 KiB arrives byte-identical', async () => {
    const res = await request(app).get('/big.bin').buffer(true).parse(binary);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-length']).toBe(String(big.length));
    expect(Buffer.isBuffer(res.body)).toBe(true);
    expect(res.body.length).toBe(big.length);
    expect(sha256(res.body)).toBe(sha256(big));
  });
});
