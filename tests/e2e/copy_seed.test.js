'use strict';
// The seed scenario "Copy custom images": copy a custom image from
// cn-hangzhou to cn-shanghai with both official SDKs, then watch it the way
// Terraform's alicloud_image_copy does (DescribeImages in the target region
// with the five-status list and an ImageId filter) until it is Available.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startFerry } = require('./lib/ferry_server');
const { Ecs, popCoreClient, ecsClient, expectApiError } = require('./lib/clients');
const { pollUntil } = require('./lib/wait');
const { TERRAFORM_STATUSES, waitCopyAvailable, waitCopyAvailableSdk } = require('./lib/copies');
const { putRawImage, importAvailableImage } = require('./lib/images');

const SOURCE = 'cn-hangzhou';
const TARGET = 'cn-shanghai';
const BUCKET = 'e2e-copy';

let server;
let popCore;
let ecs;
let sourceImageId;

before(async () => {
  server = await startFerry({ regions: [SOURCE, TARGET] });
  popCore = popCoreClient(server);
  ecs = ecsClient(server);
  await putRawImage(server, BUCKET, 'copy-source.raw');
  sourceImageId = await importAvailableImage(popCore, {
    region: SOURCE, bucket: BUCKET, object: 'copy-source.raw', name: 'copy-source',
  });
});

after(async () => {
  if (server) await server.stop();
});

// Terraform's read of a copy: one DescribeImages in the target region.
async function describeInTarget(imageId) {
  const body = await popCore.request('DescribeImages', { RegionId: TARGET, ImageId: imageId, Status: TERRAFORM_STATUSES });
  assert.ok(Array.isArray(body.Images?.Image), `Images.Image is a list: ${JSON.stringify(body)}`);
  return body.Images.Image;
}

test('pop-core (V1): copy, watch like Terraform, cancel refused once done, delete', async (t) => {
  const copied = await popCore.request('CopyImage', {
    RegionId: SOURCE,
    ImageId: sourceImageId,
    DestinationRegionId: TARGET,
    DestinationImageName: 'seed-copy',
    DestinationDescription: 'copied by the seed scenario',
    Encrypted: 'false',  // Terraform always sends it
  });
  const copyId = copied.ImageId;
  assert.match(copyId, /^m-[a-z0-9]+$/);
  assert.notEqual(copyId, sourceImageId, 'the copy has a new, unique image id');

  await t.test('the copy is listed in the target region at once and becomes Available', async () => {
    const [first] = await describeInTarget(copyId);
    assert.ok(first, `copy ${copyId} is listed in ${TARGET} right after CopyImage`);
    assert.ok(['Waiting', 'Creating', 'Available'].includes(first.Status), `status: ${first.Status}`);

    const image = await waitCopyAvailable(popCore, TARGET, copyId);
    assert.equal(image.Progress, '100%');
    assert.equal(image.ImageName, 'seed-copy');
    assert.equal(image.Description, 'copied by the seed scenario');
    assert.equal(image.IsCopied, true);
    assert.equal(image.ImageOwnerAlias, 'self');
    assert.equal(image.CopyQueuePosition, undefined, 'no Ferry extension once done');

    // The copy does not exist in the source region.
    const inSource = await popCore.request('DescribeImages', { RegionId: SOURCE, ImageId: copyId, Status: TERRAFORM_STATUSES });
    assert.deepEqual(inSource.Images.Image, []);
  });

  await t.test('the copied snapshot is visible in the target region', async () => {
    const [image] = await describeInTarget(copyId);
    const snapshotId = image.DiskDeviceMappings.DiskDeviceMapping[0].SnapshotId;
    assert.match(snapshotId, /^s-[a-z0-9]+$/);
    const res = await ecs.describeSnapshots(new Ecs.DescribeSnapshotsRequest({
      regionId: TARGET, snapshotIds: JSON.stringify([snapshotId]),
    }));
    assert.equal(res.statusCode, 200);
    assert.equal(res.body.snapshots.snapshot.length, 1);
    assert.equal(res.body.snapshots.snapshot[0].snapshotId, snapshotId);
    assert.equal(res.body.snapshots.snapshot[0].status, 'accomplished');
  });

  await t.test('CancelCopyImage on a finished copy is IncorrectImageStatus (400)', async () => {
    const err = await expectApiError(ecs.cancelCopyImage(new Ecs.CancelCopyImageRequest({
      regionId: TARGET, imageId: copyId,
    })));
    assert.equal(err.code, 'IncorrectImageStatus');
    assert.equal(err.status, 400);
  });

  await t.test('DeleteImage removes the copy, not the source', async () => {
    await popCore.request('DeleteImage', { RegionId: TARGET, ImageId: copyId });
    await pollUntil(async () => ((await describeInTarget(copyId)).length === 0 ? true : undefined),
      { timeoutMs: 30_000, what: `copy ${copyId} gone from ${TARGET}` });
    const source = await popCore.request('DescribeImages', { RegionId: SOURCE, ImageId: sourceImageId });
    assert.equal(source.Images.Image.length, 1);
  });
});

test('ecs20140526 (V3): the typed models decode a copy and its errors', async () => {
  const res = await ecs.copyImage(new Ecs.CopyImageRequest({
    regionId: SOURCE,
    imageId: sourceImageId,
    destinationRegionId: TARGET,
    destinationImageName: 'sdk-copy',
    encrypted: false,
    tag: [new Ecs.CopyImageRequestTag({ key: 'team', value: 'ferry' })],
  }));
  assert.equal(res.statusCode, 200);
  const copyId = res.body.imageId;
  assert.match(copyId, /^m-[a-z0-9]+$/);

  const image = await waitCopyAvailableSdk(ecs, TARGET, copyId);
  assert.equal(image.isCopied, true);
  assert.equal(image.progress, '100%');
  assert.equal(image.imageName, 'sdk-copy');
  assert.deepEqual(image.tags.tag.map((tag) => [tag.tagKey, tag.tagValue]), [['team', 'ferry']]);

  const unknown = await expectApiError(ecs.copyImage(new Ecs.CopyImageRequest({
    regionId: SOURCE, imageId: sourceImageId, destinationRegionId: 'cn-nowhere',
  })));
  assert.equal(unknown.code, 'DestinationRegion.NotFound');
  assert.equal(unknown.status, 400);

  const missing = await expectApiError(ecs.copyImage(new Ecs.CopyImageRequest({
    regionId: SOURCE, imageId: 'm-doesnotexist0000000', destinationRegionId: TARGET,
  })));
  assert.equal(missing.code, 'InvalidImageId.NotFound');
  assert.equal(missing.status, 404);

  await ecs.deleteImage(new Ecs.DeleteImageRequest({ regionId: TARGET, imageId: copyId }));
});
