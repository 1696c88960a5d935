/**
 * `npm run build`: dist/ from src/, one implementation loaded by both module systems.
 *
 *   dist/index.cjs    the code: src/index.ts bundled as CommonJS, `module.exports = serveStatic` (with
 *                     `.serveStatic` and `.default` on it); dependencies stay `require` calls
 *   dist/index.js     the ES module entry: re-exports dist/index.cjs (through dist/esm-bridge.cjs), so `import`
 *                     and `require` in one process get the same module instance (one file thread, one mime cache)
 *   dist/cli.js       the `brisk-static` command (ESM), importing ./index.js
 *   dist/*.d.ts       declarations emitted by tsc (tsconfig.build.json), for `import`
 *   dist/*.d.cts      the same declarations for `require` (but the command's); index.d.cts says
 *                     `export = serveStatic`
 *
 * Every file is written to a temporary name and renamed into place, so a process that loads dist/ while a build
 * runs sees the old file or the new one, never half of one.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';

const DIST = 'dist';
const require = createRequire(import.meta.url);

function writeAtomically(path, text) {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}

execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  packages: 'external',
  write: false,
  logLevel: 'warning',
};
const [cjs, cli] = await Promise.all([
  build({
    ...common,
    entryPoints: ['src/index.ts'],
    format: 'cjs',
    outfile: join(DIST, 'index.cjs'),
    // esbuild's CommonJS output exports an object of getters ({ default, serveStatic }); serve-static's
    // callers expect the function itself.
    footer: { js: 'module.exports = module.exports.default;' },
  }),
  build({
    ...common,
    entryPoints: ['src/cli.ts'],
    format: 'esm',
    outfile: join(DIST, 'cli.js'),
    external: ['./index.js'],
  }),
]);
for (const file of [...cjs.outputFiles, ...cli.outputFiles]) writeAtomically(file.path, file.text);

// Node scans a CommonJS module that `import` loads for its export names (cjs-module-lexer), reading all of it:
// about 8 ms for index.cjs. The ES module entry therefore imports a three-line module that `require`s
// index.cjs, which is loaded as `require('brisk-static')` loads it. Bundlers follow both static imports.
writeAtomically(
  join(DIST, 'esm-bridge.cjs'),
  `'use strict';
// Loads index.cjs for the ES module entry (index.js) with a plain require. Not \`module.exports = require(...)\`:
// Node would take that for a re-export and scan index.cjs after all.
const serveStatic = require('./index.cjs');
module.exports = serveStatic;
`,
);
writeAtomically(
  join(DIST, 'index.js'),
  `// The ES module entry is a view of the CommonJS build (index.cjs, through esm-bridge.cjs), so that one
// process never holds two copies of it: \`import\` and \`require\` get the same function and the same state.
import serveStatic from './esm-bridge.cjs';

const { serveStaticFetch } = serveStatic;
export { serveStatic, serveStaticFetch, serveStatic as default };
`,
);

/**
 * The declarations again as CommonJS: a `.d.ts` in this "type": "module" package describes an ES module, and
 * TypeScript (module node16) refuses CommonJS code that imports one. Relative imports point at the `.d.cts`
 * twins; index.d.cts turns `export default serveStatic` plus named type exports into `export = serveStatic` with
 * a namespace of the types, which is what `module.exports = serveStatic` is. It accepts only the export forms
 * src/index.ts uses and fails the build on any other, rather than publishing declarations that lie.
 */
const toCjs = (text) => text.replace(/(from '\.{1,2}\/[^']*)\.js'/g, "$1.cjs'");
for (const name of readdirSync(DIST)) {
  if (name.endsWith('.d.ts') && name !== 'index.d.ts' && name !== 'cli.d.ts') {
    writeAtomically(join(DIST, name.replace(/\.d\.ts$/, '.d.cts')), toCjs(readFileSync(join(DIST, name), 'utf8')));
  }
}

const esmIndex = toCjs(readFileSync(join(DIST, 'index.d.ts'), 'utf8'));
const specifiers = (list) =>
  list
    .split(',')
    .map((part) => part.trim().replace(/^type\s+/, ''))
    .filter(Boolean)
    .map((part) => {
      const [name, alias = name] = part.split(/\s+as\s+/);
      return { name, alias };
    });
/** Local names bound by the import declarations, each with what it names: `'<module> <name>'`. */
const bound = new Map();
for (const [, list, from] of esmIndex.matchAll(/^import (?:type )?\{([^}]*)\} from '([^']*)';$/gm)) {
  for (const { name, alias } of specifiers(list)) bound.set(alias, `${from} ${name}`);
}
const typeNames = [];
const cjsIndex = esmIndex
  .replace(/^export type \{([^}]*)\} from '([^']*)';\n/gm, (_, list, from) => {
    const missing = [];
    for (const { name, alias } of specifiers(list)) {
      typeNames.push(alias);
      const already = bound.get(alias);
      if (already === undefined) missing.push(name === alias ? name : `${name} as ${alias}`);
      else if (already !== `${from} ${name}`) throw new Error(`scripts/build.mjs: ${alias} names two things in index.d.ts`);
      bound.set(alias, `${from} ${name}`);
    }
    return missing.length === 0 ? '' : `import type { ${missing.join(', ')} } from '${from}';\n`;
  })
  .replace(/^export declare function serveStatic\b/m, 'declare function serveStatic')
  .replace(/^export declare function serveStaticFetch\b/m, 'declare function serveStaticFetch')
  .replace(/^export default serveStatic;\n/m, '');
const leftover = cjsIndex.split('\n').filter((line) => /^export\b/.test(line));
if (
  leftover.length > 0 ||
  !/^declare function serveStatic\b/m.test(cjsIndex) ||
  !/^declare function serveStaticFetch\b/m.test(cjsIndex) ||
  typeNames.length === 0
) {
  throw new Error(`scripts/build.mjs: dist/index.d.ts has exports index.d.cts cannot express:\n${leftover.join('\n')}`);
}
writeAtomically(
  join(DIST, 'index.d.cts'),
  `${cjsIndex}declare namespace serveStatic {
    export { serveStatic, serveStaticFetch, serveStatic as default };
    export type { ${typeNames.join(', ')} };
}
export = serveStatic;
`,
);
