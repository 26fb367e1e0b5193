'use strict';
// Image lifecycle through @alicloud/ecs20140526 (signature V3,
// ACS3-HMAC-SHA256, the SDK's default). Responses are decoded into the SDK's
// typed models, so a wrongly shaped answer (a list without its wrapper, a
// misspelt key) shows up as a missing field here.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startFerry } = require('./lib/ferry_server');
const { Ecs, ecsClient, REGION } = require('./lib/clients');
const { pollUntil } = require('./lib/wait');
const { ALL_IMAGE_STATUSES, putRawImage, exportedObjectPath, sha256File } = require('./lib/images');

const BUCKET = 'e2e-ecs-sdk';
let server;
let ecs;

before(async () => {
  server = await startFerry();
  ecs = ecsClient(server);
});

after(async () => {
  if (server) await server.stop();
});

async function describeImage(imageId) {
  const res = await ecs.describeImages(new Ecs.DescribeImagesRequest({
    regionId: REGION, imageId, status: ALL_IMAGE_STATUSES,
  }));
  assert.equal(res.statusCode, 200);
  assert.ok(Array.isArray(res.body.images?.image), `Images.Image is a list: ${JSON.stringify(res.body)}`);
  return res.body.images.image;
}

test('DescribeRegions lists the configured regions', async () => {
  const res = await ecs.describeRegions(new Ecs.DescribeRegionsRequest({}));
  assert.equal(res.statusCode, 200);
  assert.match(res.body.requestId, /\S/);
  const ids = res.body.regions.region.map((region) => region.regionId);
  assert.ok(ids.includes('cn-hangzhou') && ids.includes('cn-shanghai'), `regions: ${ids}`);
});

test('import, rename, export and delete an image', async (t) => {
  const source = await putRawImage(server, BUCKET, 'disk.raw');

  const imported = await ecs.importImage(new Ecs.ImportImageRequest({
    regionId: REGION,
    imageName: 'sdk-import',
    diskDeviceMapping: [new Ecs.ImportImageRequestDiskDeviceMapping({
      OSSBucket: BUCKET, OSSObject: 'disk.raw', format: 'RAW',
    })],
  }));
  const imageId = imported.body.imageId;
  assert.match(imageId, /^m-[a-z0-9]+$/);
  assert.match(imported.body.taskId, /\S/);

  await t.test('the image becomes Available', async () => {
    const image = await pollUntil(async () => {
      const [found] = await describeImage(imageId);
      assert.ok(found, `image ${imageId} is listed while it is being imported`);
      assert.ok(!['CreateFailed', 'UnAvailable'].includes(found.status), `import failed: ${JSON.stringify(found)}`);
      return found.status === 'Available' ? found : undefined;
    }, { timeoutMs: 120_000, what: `image ${imageId} Available` });
    assert.equal(image.imageName, 'sdk-import');
    assert.equal(image.progress, '100%');
    assert.ok(image.diskDeviceMappings.diskDeviceMapping.length >= 1);
  });

  await t.test('ModifyImageAttribute renames it', async () => {
    const res = await ecs.modifyImageAttribute(new Ecs.ModifyImageAttributeRequest({
      regionId: REGION, imageId, imageName: 'sdk-renamed',
    }));
    assert.equal(res.statusCode, 200);
    const [image] = await describeImage(imageId);
    assert.equal(image.imageName, 'sdk-renamed');
  });

  await t.test('ExportImage writes the same bytes back to object storage', async () => {
    const exported = await ecs.exportImage(new Ecs.ExportImageRequest({
      regionId: REGION, imageId, OSSBucket: BUCKET, OSSPrefix: 'sdk', imageFormat: 'raw',
    }));
    const taskId = exported.body.taskId;
    assert.match(taskId, /\S/);
    const task = await pollUntil(async () => {
      const res = await ecs.describeTaskAttribute(new Ecs.DescribeTaskAttributeRequest({ regionId: REGION, taskId }));
      assert.equal(res.body.taskId, taskId);
      assert.notEqual(res.body.taskStatus, 'Failed', `export failed: ${JSON.stringify(res.body)}`);
      return res.body.taskStatus === 'Finished' ? res.body : undefined;
    }, { timeoutMs: 120_000, what: `export task ${taskId} Finished` });
    assert.equal(task.taskAction, 'ExportImage');
    const related = task.operationProgressSet?.operationProgress?.[0]?.relatedItemSet?.relatedItem ?? [];
    const file = exportedObjectPath(server, BUCKET, 'sdk', related);
    assert.equal(await sha256File(file), source.sha256, `${file} differs from the imported disk`);
  });

  await t.test('DeleteImage removes it', async () => {
    const res = await ecs.deleteImage(new Ecs.DeleteImageRequest({ regionId: REGION, imageId }));
    assert.equal(res.statusCode, 200);
    await pollUntil(async () => ((await describeImage(imageId)).length === 0 ? true : undefined),
      { timeoutMs: 30_000, what: `image ${imageId} gone from DescribeImages` });
  });
});
