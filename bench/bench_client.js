#!/usr/bin/env node
'use strict';
// Imports or copies one image and times it, for the bench scripts.
//
//   node bench/bench_client.js import ENDPOINT REGION BUCKET OBJECT NAME
//       ImportImage until its task is Finished.
//   node bench/bench_client.js copy ENDPOINT SOURCE_REGION DEST_REGION IMAGE_ID NAME
//       CopyImage until DescribeImages in DEST_REGION reports the copy Available.
//   node bench/bench_client.js image-from-instance ENDPOINT REGION INSTANCE_ID NAME
//       CreateImage from the instance until DescribeImages reports it Available.
//
// Keys come from FERRY_ACCESS_KEY_ID / FERRY_ACCESS_KEY_SECRET. Prints one
// JSON line: {"seconds", "imageId"}. Signs V1 requests itself (no SDK), so the
// client adds no measurable cost to the timing; it polls every 10 ms, so the
// timing is at most 10 ms late (one poll is ~1 ms of server work).

const path = require('node:path');
const { signV1, postForm } = require(path.join(__dirname, '..', 'tests', 'e2e', 'lib', 'rpc_v1.js'));

const POLL_MS = 10;
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

const pause = () => new Promise((resolve) => setTimeout(resolve, POLL_MS));

async function importImage(endpoint, region, bucket, object, name) {
  const imported = await call(endpoint, 'ImportImage', {
    RegionId: region,
    ImageName: name,
    'DiskDeviceMapping.1.OSSBucket': bucket,
    'DiskDeviceMapping.1.OSSObject': object,
    'DiskDeviceMapping.1.Format': 'RAW',
  });
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const task = await call(endpoint, 'DescribeTaskAttribute', { RegionId: region, TaskId: imported.TaskId });
    if (task.TaskStatus === 'Finished') return imported.ImageId;
    if (task.TaskStatus === 'Failed') throw new Error(`import task failed: ${JSON.stringify(task)}`);
    if (Date.now() > deadline) throw new Error(`import task ${imported.TaskId} not finished after ${TIMEOUT_MS} ms`);
    await pause();
  }
}

async function copyImage(endpoint, sourceRegion, destRegion, imageId, name) {
  const copied = await call(endpoint, 'CopyImage', {
    RegionId: sourceRegion,
    ImageId: imageId,
    DestinationRegionId: destRegion,
    DestinationImageName: name,
  });
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const described = await call(endpoint, 'DescribeImages', {
      RegionId: destRegion,
      ImageId: copied.ImageId,
      // Without a Status filter DescribeImages shows only Available images.
      Status: 'Creating,Waiting,Available,CreateFailed',
    });
    const image = ((described.Images || {}).Image || [])[0];
    if (image && image.Status === 'Available') return copied.ImageId;
    if (image && image.Status === 'CreateFailed') throw new Error(`copy failed: ${JSON.stringify(image)}`);
    if (Date.now() > deadline) throw new Error(`copy ${copied.ImageId} not Available after ${TIMEOUT_MS} ms`);
    await pause();
  }
}

async function waitAvailable(endpoint, region, imageId, what) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const described = await call(endpoint, 'DescribeImages', {
      RegionId: region, ImageId: imageId, Status: 'Creating,Waiting,Available,CreateFailed',
    });
    const image = ((described.Images || {}).Image || [])[0];
    if (image && image.Status === 'Available') return imageId;
    if (image && image.Status === 'CreateFailed') throw new Error(`${what} failed: ${JSON.stringify(image)}`);
    if (Date.now() > deadline) throw new Error(`${what} ${imageId} not Available after ${TIMEOUT_MS} ms`);
    await pause();
  }
}

async function imageFromInstance(endpoint, region, instanceId, name) {
  const made = await call(endpoint, 'CreateImage', { RegionId: region, InstanceId: instanceId, ImageName: name });
  return waitAvailable(endpoint, region, made.ImageId, 'CreateImage');
}

async function main() {
  const [mode, endpoint, ...rest] = process.argv.slice(2);
  const started = process.hrtime.bigint();
  let imageId;
  if (mode === 'import' && rest.length === 4) {
    imageId = await importImage(endpoint, ...rest);
  } else if (mode === 'copy' && rest.length === 4) {
    imageId = await copyImage(endpoint, ...rest);
  } else if (mode === 'image-from-instance' && rest.length === 3) {
    imageId = await imageFromInstance(endpoint, ...rest);
  } else {
    throw new Error('usage: bench_client.js import ENDPOINT REGION BUCKET OBJECT NAME\n' +
                    '       bench_client.js copy ENDPOINT SOURCE_REGION DEST_REGION IMAGE_ID NAME\n' +
                    '       bench_client.js image-from-instance ENDPOINT REGION INSTANCE_ID NAME');
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ seconds, imageId }));
}

main().catch((err) => {
  console.error(`bench_client: ${err.message}`);
  process.exit(1);
});
