'use strict';
// Starts a real `ferry serve` on a free loopback port with a throwaway data
// directory and known root keys, and stops it by pid.
//
// The binary is $FERRY_BIN, else ../../build/src/cli/ferry relative to this
// test folder (the Makefile's build directory).

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { pollUntil } = require('./wait');

const REPO_BUILD_BINARY = path.resolve(__dirname, '..', '..', '..', 'build', 'src', 'cli', 'ferry');
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const STDERR_TAIL_BYTES = 16 * 1024;

function ferryBinary() {
  const bin = process.env.FERRY_BIN || REPO_BUILD_BINARY;
  if (!fs.existsSync(bin)) {
    throw new Error(`ferry binary not found at ${bin}: build it (make build) or set FERRY_BIN`);
  }
  return bin;
}

// The caller's environment minus any FERRY_* setting, so a developer's own
// configuration (FERRY_DATA, FERRY_CONFIG, ...) cannot leak into a test.
function cleanEnv(extra) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('FERRY_')) env[key] = value;
  }
  return { ...env, ...extra };
}

function randomKey(prefix, bytes) {
  return prefix + crypto.randomBytes(bytes).toString('hex');
}

// Runs a ferry CLI command to completion; resolves with stdout.
function runFerryCli(args, { env = {}, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(ferryBinary(), args, { env: cleanEnv(env), timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          err.message += `\nferry ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`;
          reject(err);
        } else {
          resolve(stdout);
        }
      });
  });
}

// Parses the JSON object a CLI command printed, tolerating log lines around it.
function parseJsonOutput(stdout) {
  const start = stdout.indexOf('{');
  const end = stdout.lastIndexOf('}');
  if (start < 0 || end < start) throw new Error(`no JSON object in output: ${stdout}`);
  return JSON.parse(stdout.slice(start, end + 1));
}

// Servers not yet stopped; killed if the test process exits without its
// after() hooks having run (a crash or a runner timeout), so none outlives it.
const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});

class FerryServer {
  constructor({ child, workDir, dataDir, endpoint, port, adminEndpoint, ossEndpoint, ossPort, accessKeyId, accessKeySecret, stderrTail }) {
    this.child = child;
    this.workDir = workDir;
    this.dataDir = dataDir;
    this.configDir = path.join(workDir, 'config');  // FERRY_CONFIG_DIR: CLI profiles
    this.endpoint = endpoint;      // http://127.0.0.1:PORT
    this.port = port;
    this.adminEndpoint = adminEndpoint;  // http://127.0.0.1:PORT of /metrics and /healthz
    this.ossEndpoint = ossEndpoint;  // http://127.0.0.1:PORT of the OSS object API
    this.ossPort = ossPort;
    this.pid = child.pid;
    this.host = `127.0.0.1:${port}`;
    this.accessKeyId = accessKeyId;
    this.accessKeySecret = accessKeySecret;
    this.stderrTail = stderrTail;  // () => the last bytes the server wrote to stderr
  }

  // DATA/oss/<bucket>: a bucket folder made by hand belongs to the root account.
  bucketDir(bucket) {
    const dir = path.join(this.dataDir, 'oss', bucket);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  // Creates a second account with the CLI; resolves {AccountId, AccessKeyId, AccessKeySecret}.
  async createAccount(name) {
    const stdout = await runFerryCli(['account', 'create', name, '--data', this.dataDir],
      { env: { FERRY_CONFIG_DIR: this.configDir } });
    const account = parseJsonOutput(stdout);
    for (const key of ['AccountId', 'AccessKeyId', 'AccessKeySecret']) {
      if (!account[key]) throw new Error(`ferry account create printed no ${key}: ${stdout}`);
    }
    return account;
  }

  // SIGTERM, then SIGKILL if the process has not exited within the grace period.
  // Safe to call twice and after the process died on its own.
  async stop() {
    const child = this.child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try { process.kill(this.pid, 'SIGTERM'); } catch { /* already gone */ }
      let timer;
      const grace = new Promise((resolve) => { timer = setTimeout(resolve, STOP_GRACE_MS, 'timeout'); });
      const outcome = await Promise.race([exited, grace]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        try { process.kill(this.pid, 'SIGKILL'); } catch { /* already gone */ }
        await exited;
      }
    }
    running.delete(child);
    if (!process.env.FERRY_E2E_KEEP) {
      fs.rmSync(this.workDir, { recursive: true, force: true });
    }
  }
}

// A loopback port that was free a moment ago (bound to port 0, read, closed):
// the processes of a cluster must know each other's ports before they start.
function freeLoopbackPort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Root keys and a cluster key for the processes of one cluster: every
// process gets the same ones.
function clusterKeys() {
  return {
    accessKeyId: randomKey('LTAIe2e', 8),
    accessKeySecret: randomKey('', 15),
    clusterKey: randomKey('cluster-', 16),
  };
}

// Starts ferry and resolves once it has written its ready file.
// For one process of a cluster: `port` (from freeLoopbackPort), `peers`
// ({regionId: 'http://127.0.0.1:PORT'} of the other processes) and `keys`
// (from clusterKeys, shared by the cluster). `extraArgs`: more `serve` flags
// (e.g. ['--copy-rate-limit', '1048576']).
async function startFerry({ regions = ['cn-hangzhou', 'cn-shanghai'], port = 0, peers = {}, keys, extraArgs = [] } = {}) {
  const bin = ferryBinary();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-e2e-'));
  const dataDir = path.join(workDir, 'data');
  const readyFile = path.join(workDir, 'ready.json');
  fs.mkdirSync(dataDir);
  const accessKeyId = keys?.accessKeyId ?? randomKey('LTAIe2e', 8);
  const accessKeySecret = keys?.accessKeySecret ?? randomKey('', 15);
  const clusterArgs = [];
  for (const [regionId, url] of Object.entries(peers)) clusterArgs.push('--peer', `${regionId}=${url}`);
  // The cluster key travels in the environment, never on the command line.
  const clusterEnv = keys?.clusterKey ? { FERRY_CLUSTER_KEY: keys.clusterKey } : {};

  const child = spawn(bin, [
    // The admin and OSS listeners on free ports: the defaults (listen port
    // + 1 and + 2) may be another process's ports.
    'serve', '--listen', `127.0.0.1:${port}`, '--admin-listen', '127.0.0.1:0', '--oss-listen', '127.0.0.1:0',
    '--data', dataDir,
    '--regions', regions.join(','), '--ready-file', readyFile, ...clusterArgs, ...extraArgs,
  ], {
    // FERRY_CONFIG_DIR keeps the default CLI profile that `serve` writes out
    // of the developer's home directory.
    env: cleanEnv({
      FERRY_ACCESS_KEY_ID: accessKeyId,
      FERRY_ACCESS_KEY_SECRET: accessKeySecret,
      FERRY_CONFIG_DIR: path.join(workDir, 'config'),
      ...clusterEnv,
    }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // Keep the end of the server log for failure messages.
  running.add(child);
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
    if (process.env.FERRY_E2E_VERBOSE) process.stderr.write(text);
  });
  let spawnError = null;
  child.once('error', (err) => { spawnError = err; });

  let ready;
  try {
    ready = await pollUntil(async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`ferry serve exited early (code ${child.exitCode}, signal ${child.signalCode})`);
      }
      if (spawnError) throw spawnError;
      try {
        const info = JSON.parse(fs.readFileSync(readyFile, 'utf8'));
        return info.port ? info : undefined;
      } catch {
        return undefined;  // not written yet, or written half-way
      }
    }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 50, what: `ready file ${readyFile}` });
  } catch (err) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
    running.delete(child);
    fs.rmSync(workDir, { recursive: true, force: true });
    err.message += `\nferry stderr (tail):\n${stderrTail}`;
    throw err;
  }

  return new FerryServer({
    child, workDir, dataDir,
    endpoint: ready.endpoint || `http://127.0.0.1:${ready.port}`,
    port: ready.port,
    adminEndpoint: ready.admin_endpoint,
    ossEndpoint: ready.oss_endpoint,
    ossPort: ready.oss_port,
    accessKeyId, accessKeySecret,
    stderrTail: () => stderrTail,
  });
}

module.exports = { startFerry, freeLoopbackPort, clusterKeys, runFerryCli, parseJsonOutput, ferryBinary };
