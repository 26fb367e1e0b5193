#!/usr/bin/env node
'use strict';
// Times one ImportImage from object storage until its task is Finished.
//
//   node bench/import_client.js ENDPOINT REGION BUCKET OBJECT
//
// Keys come from FERRY_ACCESS_KEY_ID / FERRY_ACCESS_KEY_SECRET. Prints one
// JSON line: {"seconds", "imageId", "taskId"}. Signs V1 requests itself (no
// SDK), so the client adds no measurable cost to the timing.

const path = require('node:path');
const { signV1, postForm } = require(path.join(__dirname, '..', 'tests', 'e2e', 'lib', 'rpc_v1.js'));

const POLL_MS = 50;
const TIMEOUT_MS = 60 * 60 * 1000;

async function call(endpoint, action, params) {
  const signed = signV1({
    action, params,
    accessKeyId: process.env.FERRY_ACCESS_KEY_ID,
    accessKeySecret: process.env.FERRY_ACCESS_KEY_SECRET,
  });
  const res = await postForm(endpoint, signed, { timeoutMs: 60_000 });
  if (res.statusCode !== 200) {
    throw new Error(`${action}: HTTP ${res.statusCode} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

async function main() {
  const [endpoint, region, bucket, object] = process.argv.slice(2);
  if (!object) throw new Error('usage: import_client.js ENDPOINT REGION BUCKET OBJECT');
  const started = process.hrtime.bigint();
  const imported = await call(endpoint, 'ImportImage', {
    RegionId: region,
    ImageName: 'bench-import',
    'DiskDeviceMapping.1.OSSBucket': bucket,
    'DiskDeviceMapping.1.OSSObject': object,
    'DiskDeviceMapping.1.Format': 'RAW',
  });
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const task = await call(endpoint, 'DescribeTaskAttribute', { RegionId: region, TaskId: imported.TaskId });
    if (task.TaskStatus === 'Finished') break;
    if (task.TaskStatus === 'Failed') throw new Error(`import task failed: ${JSON.stringify(task)}`);
    if (Date.now() > deadline) throw new Error(`import task ${imported.TaskId} not finished after ${TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ seconds, imageId: imported.ImageId, taskId: imported.TaskId }));
}

main().catch((err) => {
  console.error(`import_client: ${err.message}`);
  process.exit(1);
});
