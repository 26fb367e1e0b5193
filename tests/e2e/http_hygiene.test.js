'use strict';
// HTTP as Node's own client sees it: a HEAD answer carries no body, so the
// next answer on a kept-alive connection parses (a stray body used to make
// Node fail with a parse error); /metrics and /healthz are served on the
// operator's listener only.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startFerry } = require('./lib/ferry_server');

let server;
let agent;

before(async () => {
  server = await startFerry();
  // One socket, kept alive: every request below reuses it.
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
});

after(async () => {
  agent?.destroy();
  await server?.stop();
});

function request(base, method, path) {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL(path, base), { method, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode,
        headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        socket: req.reusedSocket,
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('HEAD then GET on one kept-alive connection, on every route', async () => {
  const routes = [
    [server.endpoint, '/'],
    [server.endpoint, '/?Action=DescribeRegions&Version=2014-05-26'],
    [server.endpoint, '/ferry/peer/v1/regions/cn-hangzhou'],
    [server.endpoint, '/no-such-route'],
    [server.endpoint, '/metrics'],
    [server.adminEndpoint, '/metrics'],
    [server.adminEndpoint, '/healthz'],
  ];
  for (const [base, path] of routes) {
    const head = await request(base, 'HEAD', path);
    assert.equal(head.body, '', `${base}${path}`);
    assert.ok(Number(head.headers['content-length']) > 0, `${base}${path}: ${JSON.stringify(head.headers)}`);
    const get = await request(base, 'GET', path);
    assert.equal(Buffer.byteLength(get.body), Number(get.headers['content-length']), `${base}${path}`);
    assert.ok(get.socket, `${base}${path}: the GET reused the HEAD's connection`);
  }
});

test('/metrics and /healthz: admin listener only', async () => {
  assert.ok(server.adminEndpoint, 'the ready file names the admin listener');
  const health = await request(server.adminEndpoint, 'GET', '/healthz');
  assert.equal(health.status, 200);
  assert.equal(health.body, 'ok\n');
  const metrics = await request(server.adminEndpoint, 'GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /ferry_region_/);
  for (const path of ['/metrics', '/healthz']) {
    const tenant = await request(server.endpoint, 'GET', path);
    assert.equal(tenant.status, 404, path);
    assert.equal(JSON.parse(tenant.body).Code, 'InvalidAction.NotFound');
  }
});
