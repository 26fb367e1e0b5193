'use strict';
// Image lifecycle through @alicloud/pop-core (signature V1, form-body POST):
// import a raw disk from object storage, rename, export, verify the bytes,
// delete.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const RPCClient = require('@alicloud/pop-core').RPCClient;
const { startFerry } = require('./lib/ferry_server');
const { popCoreClient, REGION } = require('./lib/clients');
const { pollUntil } = require('./lib/wait');
const { ALL_IMAGE_STATUSES, putRawImage, exportedObjectPath, sha256File } = require('./lib/images');

const BUCKET = 'e2e-popcore';
let server;
let ecs;

before(async () => {
  server = await startFerry();
  ecs = popCoreClient(server);
});

after(async () => {
  if (server) await server.stop();
});

async function describeImage(imageId) {
  const body = await ecs.request('DescribeImages', { RegionId: REGION, ImageId: imageId, Status: ALL_IMAGE_STATUSES });
  assert.ok(Array.isArray(body.Images?.Image), `Images.Image is a list: ${JSON.stringify(body)}`);
  return body.Images.Image;
}

test('DescribeRegions lists the configured regions', async () => {
  const body = await ecs.request('DescribeRegions', {});
  assert.match(body.RequestId, /\S/);
  const ids = body.Regions.Region.map((region) => region.RegionId);
  assert.ok(ids.includes('cn-hangzhou') && ids.includes('cn-shanghai'), `regions: ${ids}`);
  for (const region of body.Regions.Region) {
    assert.equal(typeof region.LocalName, 'string');
    assert.equal(region.Status, 'available');
  }
});

test('STS GetCallerIdentity names the account of the key, as `aliyun sts GetCallerIdentity` calls it', async () => {
  const other = await server.createAccount('popcore-caller');
  const sts = new RPCClient({
    accessKeyId: other.AccessKeyId, accessKeySecret: other.AccessKeySecret,
    endpoint: server.endpoint, apiVersion: '2015-04-01',
  });
  const body = await sts.request('GetCallerIdentity', {}, { method: 'POST' });
  assert.equal(body.AccountId, other.AccountId);
  assert.equal(body.IdentityType, 'Account');
  assert.equal(body.Arn, `acs:ram::${other.AccountId}:root`);
  assert.equal(body.AccountName, 'popcore-caller');
  // The ECS version has no such action.
  await assert.rejects(ecs.request('GetCallerIdentity', {}), (err) => err.name === 'InvalidAction.NotFoundError');
});

test('import, rename, export and delete an image', async (t) => {
  const source = await putRawImage(server, BUCKET, 'disk.raw');

  const imported = await ecs.request('ImportImage', {
    RegionId: REGION,
    ImageName: 'popcore-import',
    'DiskDeviceMapping.1.OSSBucket': BUCKET,
    'DiskDeviceMapping.1.OSSObject': 'disk.raw',
    'DiskDeviceMapping.1.Format': 'RAW',
  });
  assert.match(imported.ImageId, /^m-[a-z0-9]+$/);
  assert.match(imported.TaskId, /\S/);
  const imageId = imported.ImageId;

  await t.test('the image becomes Available', async () => {
    const image = await pollUntil(async () => {
      const [found] = await describeImage(imageId);
      assert.ok(found, `image ${imageId} is listed while it is being imported`);
      assert.ok(!['CreateFailed', 'UnAvailable'].includes(found.Status), `import failed: ${JSON.stringify(found)}`);
      return found.Status === 'Available' ? found : undefined;
    }, { timeoutMs: 120_000, what: `image ${imageId} Available` });
    assert.equal(image.ImageName, 'popcore-import');
    assert.equal(image.ImageOwnerAlias, 'self');
    assert.equal(image.Progress, '100%');
    assert.ok(image.DiskDeviceMappings.DiskDeviceMapping.length >= 1);
  });

  await t.test('ModifyImageAttribute renames it', async () => {
    await ecs.request('ModifyImageAttribute', { RegionId: REGION, ImageId: imageId, ImageName: 'popcore-renamed' });
    const [image] = await describeImage(imageId);
    assert.equal(image.ImageName, 'popcore-renamed');
  });

  await t.test('ExportImage writes the same bytes back to object storage', async () => {
    const exported = await ecs.request('ExportImage', {
      RegionId: REGION, ImageId: imageId, OSSBucket: BUCKET, OSSPrefix: 'popcore', ImageFormat: 'raw',
    });
    assert.match(exported.TaskId, /\S/);
    const task = await pollUntil(async () => {
      const attr = await ecs.request('DescribeTaskAttribute', { RegionId: REGION, TaskId: exported.TaskId });
      assert.equal(attr.TaskId, exported.TaskId);
      assert.notEqual(attr.TaskStatus, 'Failed', `export failed: ${JSON.stringify(attr)}`);
      return attr.TaskStatus === 'Finished' ? attr : undefined;
    }, { timeoutMs: 120_000, what: `export task ${exported.TaskId} Finished` });
    assert.equal(task.TaskAction, 'ExportImage');
    assert.equal(task.TaskProcess, '100%');
    const related = task.OperationProgressSet?.OperationProgress?.[0]?.RelatedItemSet?.RelatedItem ?? [];
    const file = exportedObjectPath(server, BUCKET, 'popcore', related);
    assert.equal(await sha256File(file), source.sha256, `${file} differs from the imported disk`);
  });

  await t.test('DeleteImage removes it', async () => {
    await ecs.request('DeleteImage', { RegionId: REGION, ImageId: imageId });
    await pollUntil(async () => ((await describeImage(imageId)).length === 0 ? true : undefined),
      { timeoutMs: 30_000, what: `image ${imageId} gone from DescribeImages` });
  });
});
