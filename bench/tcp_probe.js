#!/usr/bin/env node
'use strict';
// Measures a TCP path's bulk rate and round-trip time, for the copy
// benchmarks' "link" term: the same path (loopback, or veth + tc + delay proxy)
// that ferry's chunk pulls take, with nothing but TCP on it.
//
//   node bench/tcp_probe.js server --listen HOST:PORT [--ready-file FILE]
//       Serves until SIGTERM. A connection's first line picks the test:
//       "SEND <bytes>" -> the server writes that many bytes and ends;
//       "PING"         -> the server answers each "PING" line with "PONG".
//   node bench/tcp_probe.js rate --connect HOST:PORT --bytes N
//       Pulls N bytes (server -> client, the direction chunks travel) and prints
//       {"bytes", "seconds", "bitsPerSecond"}; seconds run from connect() to the
//       last byte.
//   node bench/tcp_probe.js rtt --connect HOST:PORT [--count 20]
//       Prints {"connectAndFirstMs", "minMs", "medianMs", "maxMs"}: the first
//       exchange including connect, then `count` PING/PONG round trips.

const fs = require('node:fs');
const net = require('node:net');

const BLOCK = Buffer.alloc(4 * 1024 * 1024, 0x5a);

function parseHostPort(text) {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) throw new Error(`expected HOST:PORT, got '${text}'`);
  return { host: text.slice(0, colon), port };
}

function options(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad option ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

function serve(opts) {
  const listen = parseHostPort(opts.listen);
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    let pending = '';
    let mode = null;
    socket.on('data', (data) => {
      if (mode === 'send') return;
      pending += data.toString('latin1');
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.startsWith('SEND ')) {
          mode = 'send';
          sendBytes(socket, Number(line.slice(5)));
          return;
        }
        if (line === 'PING') socket.write('PONG\n');
        else socket.destroy();
      }
    });
  });
  server.listen(listen.port, listen.host, () => {
    if (opts['ready-file']) {
      const { address, port } = server.address();
      fs.writeFileSync(`${opts['ready-file']}.tmp`, JSON.stringify({ host: address, port }) + '\n');
      fs.renameSync(`${opts['ready-file']}.tmp`, opts['ready-file']);
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

function sendBytes(socket, total) {
  let left = total;
  const more = () => {
    while (left > 0) {
      const piece = left >= BLOCK.length ? BLOCK : BLOCK.subarray(0, left);
      left -= piece.length;
      if (!socket.write(piece)) {
        socket.once('drain', more);
        return;
      }
    }
    socket.end();
  };
  more();
}

function rate(opts) {
  const target = parseHostPort(opts.connect);
  const bytes = Number(opts.bytes);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    let received = 0;
    const socket = net.connect(target.port, target.host, () => socket.write(`SEND ${bytes}\n`));
    socket.on('data', (data) => { received += data.length; });
    socket.on('error', reject);
    socket.on('end', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (received !== bytes) reject(new Error(`received ${received} bytes, expected ${bytes}`));
      else resolve({ bytes, seconds, bitsPerSecond: (bytes * 8) / seconds });
    });
  });
}

function rtt(opts) {
  const target = parseHostPort(opts.connect);
  const count = Number(opts.count || 20);
  return new Promise((resolve, reject) => {
    const times = [];
    let first = null;
    let sentAt = process.hrtime.bigint();
    let pending = '';
    const socket = net.connect(target.port, target.host, () => {
      socket.setNoDelay(true);
      socket.write('PING\n');
    });
    socket.on('error', reject);
    socket.on('data', (data) => {
      pending += data.toString('latin1');
      while (pending.startsWith('PONG\n')) {
        pending = pending.slice(5);
        const ms = Number(process.hrtime.bigint() - sentAt) / 1e6;
        if (first === null) first = ms;
        else times.push(ms);
        if (times.length === count) {
          socket.destroy();
          times.sort((a, b) => a - b);
          resolve({
            connectAndFirstMs: first,
            minMs: times[0],
            medianMs: times[Math.floor(times.length / 2)],
            maxMs: times[times.length - 1],
          });
          return;
        }
        sentAt = process.hrtime.bigint();
        socket.write('PING\n');
      }
    });
  });
}

async function main() {
  const [mode, ...rest] = process.argv.slice(2);
  const opts = options(rest);
  if (mode === 'server') return serve(opts);
  if (mode === 'rate') return console.log(JSON.stringify(await rate(opts)));
  if (mode === 'rtt') return console.log(JSON.stringify(await rtt(opts)));
  throw new Error('usage: tcp_probe.js server|rate|rtt --listen/--connect HOST:PORT ...');
}

main().catch((err) => {
  console.error(`tcp_probe: ${err.message}`);
  process.exit(1);
});
