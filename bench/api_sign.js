#!/usr/bin/env node
'use strict';
// Pre-signs ECS RPC requests for a load generator: one form body per line,
// each with its own SignatureNonce, so none is refused as a replay.
//
//   node bench/api_sign.js OUT ACTION COUNT 'PARAMS_JSON'
//
// String values in PARAMS_JSON may hold "{i}" (the request's number, from 1)
// "{rand:N}" (a random integer in 1..N, drawn per request) and "{pick:FILE}"
// (a random line of FILE), e.g.
//   '{"RegionId":"r","PageSize":"10","PageNumber":"{rand:100}"}'
// Keys come from FERRY_ACCESS_KEY_ID / FERRY_ACCESS_KEY_SECRET. The bodies
// carry the current time, so they must be sent within the server's timestamp
// window (15 minutes).

const fs = require('node:fs');
const path = require('node:path');
const { signV1, percentEncode } = require(path.join(__dirname, '..', 'tests', 'e2e', 'lib', 'rpc_v1.js'));

const [out, action, countText, paramsText] = process.argv.slice(2);
const count = Number(countText);
if (!out || !action || !Number.isInteger(count) || count < 1 || !paramsText) {
  console.error("usage: node bench/api_sign.js OUT ACTION COUNT 'PARAMS_JSON'");
  process.exit(2);
}
const template = JSON.parse(paramsText);
const accessKeyId = process.env.FERRY_ACCESS_KEY_ID;
const accessKeySecret = process.env.FERRY_ACCESS_KEY_SECRET;

const picks = new Map();
function pick(file) {
  if (!picks.has(file)) picks.set(file, fs.readFileSync(file, 'utf8').split('\n').filter(Boolean));
  const lines = picks.get(file);
  return lines[Math.floor(Math.random() * lines.length)];
}

function expand(value, i) {
  return String(value)
    .replace(/\{i\}/g, String(i))
    .replace(/\{rand:(\d+)\}/g, (_, n) => String(1 + Math.floor(Math.random() * Number(n))))
    .replace(/\{pick:([^}]+)\}/g, (_, file) => pick(file));
}

const fd = fs.openSync(out, 'w');
let buffered = [];
for (let i = 1; i <= count; i++) {
  const params = {};
  for (const [key, value] of Object.entries(template)) params[key] = expand(value, i);
  const signed = signV1({ action, params, accessKeyId, accessKeySecret });
  buffered.push(Object.keys(signed).map((k) => `${percentEncode(k)}=${percentEncode(signed[k])}`).join('&'));
  if (buffered.length === 4096 || i === count) {
    fs.writeSync(fd, buffered.join('\n') + '\n');
    buffered = [];
  }
}
fs.closeSync(fd);
