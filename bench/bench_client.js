#!/usr/bin/env node
'use strict';
// Imports, copies, exports or runs instances of one image and times it, for
// the bench scripts.
//
//   node bench/bench_client.js import ENDPOINT REGION BUCKET OBJECT NAME
//       ImportImage until its task is Finished.
//   node bench/bench_client.js copy ENDPOINT SOURCE_REGION DEST_REGION IMAGE_ID NAME
//       CopyImage until DescribeImages in DEST_REGION reports the copy Available.
//   node bench/bench_client.js copy-many ENDPOINT SOURCE_REGION DEST_REGION PREFIX IMAGE_ID...
//       CopyImage of every IMAGE_ID at once (the copies are named PREFIX-1,
//       PREFIX-2, ...), then waits until every copy is Available; "copies"
//       is their count.
//   node bench/bench_client.js image-from-instance ENDPOINT REGION INSTANCE_ID NAME
//       CreateImage from the instance until DescribeImages reports it Available.
//   node bench/bench_client.js export ENDPOINT REGION IMAGE_ID BUCKET PREFIX
//       ExportImage (raw) until its task is Finished; "object" is the exported
//       object's name in BUCKET.
//   node bench/bench_client.js run-instances ENDPOINT REGION IMAGE_ID AMOUNT
//       RunInstances of AMOUNT (at most 100) instances until DescribeInstances
//       reports every one Running; "requestSeconds" is when RunInstances
//       answered (the records made), "firstSeconds" when the first one left
//       Pending (its disk made: the base file and one overlay), "disksSeconds"
//       when the last one did, "instanceIds" the ids.
//
// Keys come from FERRY_ACCESS_KEY_ID / FERRY_ACCESS_KEY_SECRET. Prints one
// JSON line: {"seconds", "imageId"} and the mode's fields. Signs V1 requests itself (no SDK), so the
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

// Every copy is queued before any is awaited: the destination holds them all
// at once (max_copies running, the rest Waiting). Polled one after another,
// every COPY_MANY_POLL_MS, so a hundred copies cost the server ~100 requests
// per round, not per 10 ms.
const COPY_MANY_POLL_MS = 100;

async function copyMany(endpoint, sourceRegion, destRegion, prefix, imageIds) {
  const pending = [];
  for (let i = 0; i < imageIds.length; i++) {
    const copied = await call(endpoint, 'CopyImage', {
      RegionId: sourceRegion,
      ImageId: imageIds[i],
      DestinationRegionId: destRegion,
      DestinationImageName: `${prefix}-${i + 1}`,
    });
    pending.push(copied.ImageId);
  }
  const deadline = Date.now() + TIMEOUT_MS;
  while (pending.length > 0) {
    for (let i = pending.length - 1; i >= 0; i--) {
      const described = await call(endpoint, 'DescribeImages', {
        RegionId: destRegion, ImageId: pending[i], Status: 'Creating,Waiting,Available,CreateFailed',
      });
      const image = ((described.Images || {}).Image || [])[0];
      if (image && image.Status === 'CreateFailed') throw new Error(`copy failed: ${JSON.stringify(image)}`);
      if (image && image.Status === 'Available') pending.splice(i, 1);
    }
    if (Date.now() > deadline) throw new Error(`${pending.length} copies not Available after ${TIMEOUT_MS} ms`);
    if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, COPY_MANY_POLL_MS));
  }
  return { copies: imageIds.length };
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

async function exportImage(endpoint, region, imageId, bucket, prefix) {
  const started = await call(endpoint, 'ExportImage', {
    RegionId: region, ImageId: imageId, OSSBucket: bucket, OSSPrefix: prefix, ImageFormat: 'raw',
  });
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const task = await call(endpoint, 'DescribeTaskAttribute', { RegionId: region, TaskId: started.TaskId });
    if (task.TaskStatus === 'Finished') {
      const ops = ((task.OperationProgressSet || {}).OperationProgress || []);
      const items = ops.flatMap((op) => ((op.RelatedItemSet || {}).RelatedItem || []));
      const object = items.find((i) => i.Name === 'OSSObject');
      return { object: object ? object.Value : '' };
    }
    if (task.TaskStatus === 'Failed') throw new Error(`export task failed: ${JSON.stringify(task)}`);
    if (Date.now() > deadline) throw new Error(`export task ${started.TaskId} not finished after ${TIMEOUT_MS} ms`);
    await pause();
  }
}

// 100 instances are listed in one DescribeInstances; polled every
// RUN_POLL_MS (each poll is a page of 100 rows for the server to render).
const RUN_POLL_MS = 20;

async function runInstances(endpoint, region, imageId, amount, startedAt) {
  const run = await call(endpoint, 'RunInstances', {
    RegionId: region, ImageId: imageId, InstanceType: 'ecs.g7.large', Amount: String(amount),
  });
  const since = () => Number(process.hrtime.bigint() - startedAt) / 1e9;
  const requestSeconds = since();
  const ids = run.InstanceIdSets.InstanceIdSet;
  if (ids.length !== Number(amount)) throw new Error(`RunInstances made ${ids.length} of ${amount}`);
  let firstSeconds = null;
  let disksSeconds = null;
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const listed = await call(endpoint, 'DescribeInstances', {
      RegionId: region, InstanceIds: JSON.stringify(ids), PageSize: '100',
    });
    const statuses = ((listed.Instances || {}).Instance || []).map((i) => i.Status);
    const pending = ids.length - statuses.filter((s) => s !== 'Pending').length;
    if (firstSeconds === null && pending < ids.length) firstSeconds = since();
    if (disksSeconds === null && pending === 0) disksSeconds = since();
    if (statuses.length === ids.length && statuses.every((s) => s === 'Running')) {
      return { requestSeconds, firstSeconds, disksSeconds, instanceIds: ids };
    }
    if (Date.now() > deadline) throw new Error(`instances not all Running after ${TIMEOUT_MS} ms: ${statuses}`);
    await new Promise((resolve) => setTimeout(resolve, RUN_POLL_MS));
  }
}

async function main() {
  const [mode, endpoint, ...rest] = process.argv.slice(2);
  const started = process.hrtime.bigint();
  let imageId;
  let extra = {};
  if (mode === 'import' && rest.length === 4) {
    imageId = await importImage(endpoint, ...rest);
  } else if (mode === 'copy' && rest.length === 4) {
    imageId = await copyImage(endpoint, ...rest);
  } else if (mode === 'copy-many' && rest.length >= 4) {
    extra = await copyMany(endpoint, rest[0], rest[1], rest[2], rest.slice(3));
  } else if (mode === 'image-from-instance' && rest.length === 3) {
    imageId = await imageFromInstance(endpoint, ...rest);
  } else if (mode === 'export' && rest.length === 4) {
    imageId = rest[1];
    extra = await exportImage(endpoint, ...rest);
  } else if (mode === 'run-instances' && rest.length === 3) {
    imageId = rest[1];
    extra = await runInstances(endpoint, ...rest, started);
  } else {
    throw new Error('usage: bench_client.js import ENDPOINT REGION BUCKET OBJECT NAME\n' +
                    '       bench_client.js copy ENDPOINT SOURCE_REGION DEST_REGION IMAGE_ID NAME\n' +
                    '       bench_client.js copy-many ENDPOINT SOURCE_REGION DEST_REGION PREFIX IMAGE_ID...\n' +
                    '       bench_client.js image-from-instance ENDPOINT REGION INSTANCE_ID NAME\n' +
                    '       bench_client.js export ENDPOINT REGION IMAGE_ID BUCKET PREFIX\n' +
                    '       bench_client.js run-instances ENDPOINT REGION IMAGE_ID AMOUNT');
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ seconds, imageId, ...extra }));
}

main().catch((err) => {
  console.error(`bench_client: ${err.message}`);
  process.exit(1);
});
