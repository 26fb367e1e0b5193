#!/usr/bin/env node
'use strict';
// A TCP proxy that delays every byte by a fixed time in each direction, for
// benchmarks on a link with latency: the test kernels have no netem qdisc, so
// the delay is made here, in user space.
//
//   node bench/delay_proxy.js --listen HOST:PORT --target HOST:PORT
//       [--delay-ms 25] [--ready-file FILE]
//
// Each accepted connection is relayed to --target. Data read from either side
// is written to the other --delay-ms later, in order; nothing is rate limited
// (the link's rate comes from tc on the veth). A new connection also waits one
// round trip (2 x delay) before anything is relayed, as a TCP handshake over
// the real link would. --listen with port 0 picks a free port; --ready-file then
// receives {"host", "port"} once the proxy accepts connections. Stops on
// SIGTERM or SIGINT.

const fs = require('node:fs');
const net = require('node:net');

// Bytes held in one direction's delay line before reading from that side is
// paused. At 25 ms this still lets ~2.5 GiB/s through, far above any link the
// benchmarks shape, while bounding memory if the far side stops reading.
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

function parseArgs(argv) {
  const args = { delayMs: 25, readyFile: null, listen: null, target: null };
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${argv[i]} needs a value`);
    switch (argv[i]) {
      case '--listen': args.listen = parseHostPort(value); break;
      case '--target': args.target = parseHostPort(value); break;
      case '--delay-ms': args.delayMs = Number(value); break;
      case '--ready-file': args.readyFile = value; break;
      default: throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (!args.listen || !args.target) throw new Error('--listen and --target are required');
  if (!(args.delayMs >= 0)) throw new Error(`--delay-ms must be >= 0, got ${args.delayMs}`);
  return args;
}

function parseHostPort(text) {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`expected HOST:PORT, got '${text}'`);
  }
  return { host: text.slice(0, colon), port };
}

// One direction: bytes read from `from` reach `to` delayMs after they were
// read. One timer per direction, armed for the oldest queued item, so order is
// kept and a busy stream costs one timer per batch rather than per read.
class DelayLine {
  constructor(from, to, delayMs, onError) {
    this.from = from;
    this.to = to;
    this.delayMs = delayMs;
    this.queue = [];  // {due, data} with data === null meaning "end"
    this.queuedBytes = 0;
    this.timer = null;
    this.pausedForQueue = false;
    this.pausedForDrain = false;
    from.on('data', (data) => this.push(data));
    from.on('end', () => this.push(null));
    to.on('drain', () => { this.pausedForDrain = false; this.resumeIfAllowed(); });
    from.on('error', onError);
  }

  push(data) {
    this.queue.push({ due: performance.now() + this.delayMs, data });
    if (data) {
      this.queuedBytes += data.length;
      if (this.queuedBytes > MAX_QUEUED_BYTES && !this.pausedForQueue) {
        this.pausedForQueue = true;
        this.from.pause();
      }
    }
    this.arm();
  }

  arm() {
    if (this.timer || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0].due - performance.now());
    this.timer = setTimeout(() => { this.timer = null; this.flush(); }, wait);
  }

  flush() {
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0].due <= now + 0.5) {
      const { data } = this.queue.shift();
      if (data === null) {
        this.to.end();
        continue;
      }
      this.queuedBytes -= data.length;
      if (!this.to.write(data) && !this.pausedForDrain) {
        this.pausedForDrain = true;
        this.from.pause();
      }
    }
    if (this.pausedForQueue && this.queuedBytes <= MAX_QUEUED_BYTES / 2) {
      this.pausedForQueue = false;
      this.resumeIfAllowed();
    }
    this.arm();
  }

  resumeIfAllowed() {
    if (!this.pausedForQueue && !this.pausedForDrain) this.from.resume();
  }

  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
  }
}

function relay(client, args) {
  client.pause();
  client.setNoDelay(true);
  const lines = [];
  let closed = false;
  let upstream = null;
  const close = () => {
    if (closed) return;
    closed = true;
    for (const line of lines) line.stop();
    client.destroy();
    if (upstream) upstream.destroy();
  };
  client.on('error', close);
  client.on('close', () => { if (lines.length === 0) close(); });
  // The handshake round trip: the client's first bytes wait in its socket.
  setTimeout(() => {
    if (closed) return;
    upstream = net.connect({ port: args.target.port, host: args.target.host, allowHalfOpen: true });
    upstream.setNoDelay(true);
    upstream.on('error', close);
    upstream.once('connect', () => {
      lines.push(new DelayLine(client, upstream, args.delayMs, close));
      lines.push(new DelayLine(upstream, client, args.delayMs, close));
      client.resume();
    });
    // A side is fully done once it closed and its line has delivered "end".
    let closes = 0;
    const closedOne = () => { if (++closes === 2) close(); };
    client.on('close', closedOne);
    upstream.on('close', closedOne);
  }, 2 * args.delayMs);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const sockets = new Set();
  // Half-open: a client's FIN travels through the delay line like its data,
  // and the reply keeps flowing back until the target ends it too.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    relay(client, args);
  });
  server.on('error', (err) => {
    console.error(`delay_proxy: ${err.message}`);
    process.exit(1);
  });
  server.listen(args.listen.port, args.listen.host, () => {
    const { address, port } = server.address();
    if (args.readyFile) {
      const tmp = `${args.readyFile}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify({ host: address, port }) + '\n');
      fs.renameSync(tmp, args.readyFile);
    }
  });
  const stop = () => {
    server.close();
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

try {
  main();
} catch (err) {
  console.error(`delay_proxy: ${err.message}`);
  process.exit(2);
}
