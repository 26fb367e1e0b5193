'use strict';
// README.md as a new user walks it: every ```sh and ```js block, in the
// order written, in one bash session, in a scratch directory that stands in
// for a fresh clone (its `build` links to the real build, so the commands'
// relative paths mean what they mean in a clone). The blocks are read from
// the file, so the README cannot drift from what works.
//
// Stand-ins, and only these:
// - `make run` starts `build/src/cli/ferry serve` in the background (what
//   the Makefile's run target execs, minus the install and the build this
//   test's build already did) and waits for its ready file;
// - `npm install ...` does nothing: node_modules links tests/e2e's, which
//   holds every package the README names (the e2e suite's lock file).
// - a ```js block runs as `node` with the block on stdin, in the scratch
//   directory (a user saves it to a file and runs `node FILE`).
// A block right after `<!-- readme-test: skip (why) -->` is not run.
//
// The README's servers listen on its fixed ports (8080-8082, 9080-9092), so
// the whole walk runs in a network namespace of its own (unshare --net,
// loopback only) and a PID namespace, whose processes all die with it.
// Needs root (CI runs as root); skipped otherwise.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const README = path.join(REPO, 'README.md');
const WALK_TIMEOUT_MS = 15 * 60 * 1000;
const OUTPUT_LIMIT_BYTES = 16 * 1024 * 1024;
const OUTPUT_TAIL_BYTES = 64 * 1024;

function ferryBinary() {
  return process.env.FERRY_BIN || path.join(REPO, 'build', 'src', 'cli', 'ferry');
}

// [{lang, line, text}] of the README's sh and js blocks, minus skipped ones.
function readmeBlocks(markdown) {
  const lines = markdown.split('\n');
  const blocks = [];
  let skipNext = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^<!-- readme-test: skip\b.*-->$/.test(line.trim())) {
      skipNext = true;
      continue;
    }
    const open = /^```(\w*)\s*$/.exec(line);
    if (!open) {
      if (line.trim() !== '') skipNext = false;
      continue;
    }
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    assert.ok(end < lines.length, `README.md line ${i + 1}: a code block that never closes`);
    const lang = open[1];
    if (!skipNext && (lang === 'sh' || lang === 'js')) {
      blocks.push({ lang, line: i + 1, text: lines.slice(i + 1, end).join('\n') });
    }
    skipNext = false;
    i = end;
  }
  return blocks;
}

function walkScript(blocks) {
  const parts = [
    'set -euo pipefail',
    'shopt -s expand_aliases',
    'make() {',
    '  if [ "$*" != run ]; then echo "readme test: only make run is stood in for, not make $*" >&2; return 1; fi',
    '  build/src/cli/ferry serve --ready-file serve.ready > serve.log 2>&1 &',
    '  echo $! > serve.pid',
    '  for _ in $(seq 600); do [ -s serve.ready ] && return 0; sleep 0.1; done',
    '  echo "readme test: the server did not start; serve.log:" >&2; cat serve.log >&2; return 1',
    '}',
    'npm() { echo "readme test: npm $* stood in for (node_modules links tests/e2e/node_modules)"; }',
  ];
  for (const block of blocks) {
    parts.push(`echo "=== README.md:${block.line} (${block.lang})"`);
    if (block.lang === 'sh') {
      parts.push(block.text);
    } else {
      assert.ok(!block.text.includes('README_JS_END'), `README.md:${block.line}: the block holds the heredoc marker`);
      parts.push(`node <<'README_JS_END'\n${block.text}\nREADME_JS_END`);
    }
  }
  parts.push('echo "=== README walked"');
  parts.push('kill "$(cat serve.pid)"; wait "$(cat serve.pid)" || true');
  return parts.join('\n') + '\n';
}

test('the README parser finds the blocks and honours skips', () => {
  const md = [
    'text', '```sh', 'echo a', '```',
    '<!-- readme-test: skip (why) -->', '```sh', 'echo skipped', '```',
    '```js', 'console.log(1)', '```',
    '```text', 'not code', '```',
  ].join('\n');
  assert.deepEqual(readmeBlocks(md), [
    { lang: 'sh', line: 2, text: 'echo a' },
    { lang: 'js', line: 9, text: 'console.log(1)' },
  ]);
});

test('every command of README.md works as written, in order', {
  skip: process.getuid && process.getuid() !== 0 ? 'needs root for a network namespace' : false,
  timeout: WALK_TIMEOUT_MS + 60_000,
}, async () => {
  const blocks = readmeBlocks(fs.readFileSync(README, 'utf8'));
  assert.ok(blocks.some((b) => b.lang === 'sh' && b.text.includes('make run')), 'the tour starts the server');

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-readme-'));
  const home = path.join(scratch, 'home');
  fs.mkdirSync(home);
  fs.symlinkSync(path.resolve(path.dirname(ferryBinary()), '..', '..'), path.join(scratch, 'build'));
  fs.symlinkSync(path.join(__dirname, 'node_modules'), path.join(scratch, 'node_modules'));
  fs.writeFileSync(path.join(scratch, 'walk.sh'), walkScript(blocks));

  // A new user's environment: no FERRY_* or ALIBABA_* settings of ours.
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('FERRY_') && !k.startsWith('ALIBABA_CLOUD_')) env[k] = v;
  }
  env.HOME = home;

  let output = '';
  const child = spawn('unshare', ['--net', '--pid', '--fork', '--kill-child',
    'bash', '-c', 'ip link set lo up && exec bash walk.sh'], { cwd: scratch, env });
  const keep = (chunk) => {
    if (output.length < OUTPUT_LIMIT_BYTES) output += chunk.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const timer = setTimeout(() => child.kill('SIGKILL'), WALK_TIMEOUT_MS);
  const code = await new Promise((resolve) => child.on('close', (c, signal) => resolve(c ?? signal)));
  clearTimeout(timer);
  const tail = output.slice(-OUTPUT_TAIL_BYTES);

  assert.equal(code, 0, `the README walk failed (exit ${code}); its output ends with:\n${tail}`);
  // Every block ran (the shell stops at the first failure under set -e).
  for (const block of blocks) {
    assert.ok(output.includes(`=== README.md:${block.line} (${block.lang})`),
      `block at README.md:${block.line} did not run`);
  }
  assert.match(output, /=== README walked/);
  // What the tour says its commands show.
  assert.match(output, /the export holds the imported bytes/);
  assert.match(output, /echo hi/);
  assert.match(output, /cn-shanghai\s+m-\w+\s+Available\s+100%/, 'the copy finished');
  fs.rmSync(scratch, { recursive: true, force: true });
});
