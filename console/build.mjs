// Builds the console into OUT_DIR: app.js (src/main.jsx and its imports,
// Preact included, minified), app.css, favicon.svg and index.html naming the first two with a
// content hash, so a browser never runs a stale bundle. Called by CMake
// (console/CMakeLists.txt); nothing is fetched here.
//
//   node build.mjs OUT_DIR
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUT_DIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(here, 'src/main.jsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outfile: join(out, 'app.js'),
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(join(here, 'src/style.css'), join(out, 'app.css'));
copyFileSync(join(here, 'src/favicon.svg'), join(out, 'favicon.svg'));

const hash = (file) => createHash('sha256').update(readFileSync(join(out, file))).digest('hex').slice(0, 16);
const html = readFileSync(join(here, 'src/index.html'), 'utf8')
  .replace('__JS_HASH__', hash('app.js'))
  .replace('__CSS_HASH__', hash('app.css'));
writeFileSync(join(out, 'index.html'), html);
