'use strict';
// Accounts are isolated: a second account made with `ferry account create`
// neither sees nor deletes the root account's image, nor reads its bucket.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startFerry } = require('./lib/ferry_server');
const { Ecs, popCoreClient, ecsClient, expectApiError, REGION } = require('./lib/clients');
const { ALL_IMAGE_STATUSES, putRawImage, importAvailableImage } = require('./lib/images');

const BUCKET = 'e2e-isolation';
let server;
let root;
let rootImageId;
let tenant;       // pop-core client of the second account
let tenantEcs;    // ecs20140526 client of the second account

before(async () => {
  server = await startFerry();
  root = popCoreClient(server);
  await putRawImage(server, BUCKET, 'disk.raw');
  rootImageId = await importAvailableImage(root, { region: REGION, bucket: BUCKET, object: 'disk.raw', name: 'root-image' });
  const account = await server.createAccount('tenant-b');
  const keys = { accessKeyId: account.AccessKeyId, accessKeySecret: account.AccessKeySecret };
  tenant = popCoreClient(server, keys);
  tenantEcs = ecsClient(server, keys);
});

after(async () => {
  if (server) await server.stop();
});

test('the second account does not see the root image', async () => {
  const byId = await tenant.request('DescribeImages', { RegionId: REGION, ImageId: rootImageId, Status: ALL_IMAGE_STATUSES });
  assert.deepEqual(byId.Images.Image, []);
  const all = await tenantEcs.describeImages(new Ecs.DescribeImagesRequest({ regionId: REGION, status: ALL_IMAGE_STATUSES }));
  const ids = (all.body.images?.image ?? []).map((image) => image.imageId);
  assert.ok(!ids.includes(rootImageId), `tenant listing shows the root image: ${ids}`);
});

test('the second account cannot delete the root image', async () => {
  const err = await expectApiError(tenant.request('DeleteImage', { RegionId: REGION, ImageId: rootImageId }));
  assert.deepEqual([err.code, err.status], ['InvalidImageId.NotFound', 404]);
  const body = await root.request('DescribeImages', { RegionId: REGION, ImageId: rootImageId, Status: ALL_IMAGE_STATUSES });
  assert.equal(body.Images.Image.length, 1);
  assert.equal(body.Images.Image[0].Status, 'Available');
});

test('the second account cannot import from the root bucket', async () => {
  const err = await expectApiError(tenant.request('ImportImage', {
    RegionId: REGION,
    ImageName: 'stolen',
    'DiskDeviceMapping.1.OSSBucket': BUCKET,
    'DiskDeviceMapping.1.OSSObject': 'disk.raw',
    'DiskDeviceMapping.1.Format': 'RAW',
  }));
  assert.deepEqual([err.code, err.status], ['InvalidOSSBucket.NotFound', 400]);
});
