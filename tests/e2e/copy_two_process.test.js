'use strict';
// The seed scenario "Copy custom images" across two ferry processes of one
// cluster: process A serves cn-hangzhou, process B cn-shanghai, each naming
// the other as its peer. CopyImage goes to A; the copy is watched the way
// Terraform's alicloud_image_copy does (DescribeImages in the target region
// with the five-status list and an ImageId filter), both at B, which serves
// the target region, and at A, which forwards the request to B. The exported
// bytes of source and copy are compared.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startFerry, freeLoopbackPort, clusterKeys } = require('./lib/ferry_server');
const { Ecs, popCoreClient, ecsClient } = require('./lib/clients');
const { pollUntil } = require('./lib/wait');
const { TERRAFORM_STATUSES, waitCopyAvailable, waitCopyAvailableSdk } = require('./lib/copies');
const { putRawImage, importAvailableImage, exportedSha256 } = require('./lib/images');

const SOURCE = 'cn-hangzhou';
const TARGET = 'cn-shanghai';
const BUCKET = 'e2e-copy-2p';

let serverA;  // serves SOURCE
let serverB;  // serves TARGET
let source;   // {file, sha256, size} of the imported disk
let sourceImageId;

before(async () => {
  const keys = clusterKeys();
  const [portA, portB] = [await freeLoopbackPort(), await freeLoopbackPort()];
  [serverA, serverB] = await Promise.all([
    startFerry({ regions: [SOURCE], port: portA, peers: { [TARGET]: `http://127.0.0.1:${portB}` }, keys }),
    startFerry({ regions: [TARGET], port: portB, peers: { [SOURCE]: `http://127.0.0.1:${portA}` }, keys }),
  ]);
  source = await putRawImage(serverA, BUCKET, 'copy-source.raw');
  sourceImageId = await importAvailableImage(popCoreClient(serverA), {
    region: SOURCE, bucket: BUCKET, object: 'copy-source.raw', name: 'copy-source',
  });
});

after(async () => {
  await Promise.all([serverA?.stop(), serverB?.stop()]);
});

// Terraform's read of a copy: one DescribeImages in the target region.
async function describeInTarget(popCore, imageId) {
  const body = await popCore.request('DescribeImages', { RegionId: TARGET, ImageId: imageId, Status: TERRAFORM_STATUSES });
  assert.ok(Array.isArray(body.Images?.Image), `Images.Image is a list: ${JSON.stringify(body)}`);
  return body.Images.Image;
}

function logsOf() {
  return `\nA stderr:\n${serverA.stderrTail()}\nB stderr:\n${serverB.stderrTail()}`;
}

test('both processes list both regions', async () => {
  for (const server of [serverA, serverB]) {
    const body = await popCoreClient(server).request('DescribeRegions', {});
    const ids = body.Regions.Region.map((region) => region.RegionId);
    assert.ok(ids.includes(SOURCE) && ids.includes(TARGET), `${server.endpoint} lists ${ids}`);
  }
});

test('pop-core (V1): copy at the source process, watch like Terraform, same bytes', async (t) => {
  const atA = popCoreClient(serverA);
  const atB = popCoreClient(serverB);
  const copied = await atA.request('CopyImage', {
    RegionId: SOURCE,
    ImageId: sourceImageId,
    DestinationRegionId: TARGET,
    DestinationImageName: 'seed-copy',
    DestinationDescription: 'copied across processes',
    Encrypted: 'false',  // Terraform always sends it
  });
  const copyId = copied.ImageId;
  assert.match(copyId, /^m-[a-z0-9]+$/);
  assert.notEqual(copyId, sourceImageId);

  await t.test('listed in the target at once, by both processes, then Available', async () => {
    for (const client of [atB, atA]) {
      const [first] = await describeInTarget(client, copyId);
      assert.ok(first, `copy ${copyId} is listed in ${TARGET} right after CopyImage`);
      assert.ok(['Waiting', 'Creating', 'Available'].includes(first.Status), `status: ${first.Status}`);
    }
    const image = await waitCopyAvailable(atB, TARGET, copyId, logsOf);
    assert.equal(image.Progress, '100%');
    assert.equal(image.ImageName, 'seed-copy');
    assert.equal(image.Description, 'copied across processes');
    assert.equal(image.IsCopied, true);
    assert.equal(image.ImageOwnerAlias, 'self');

    // A forwards the same question to B and relays the same answer.
    const [viaA] = await describeInTarget(atA, copyId);
    assert.equal(viaA?.Status, 'Available');
    assert.deepEqual(viaA.DiskDeviceMappings, image.DiskDeviceMappings);
    // The copy does not exist in the source region.
    const inSource = await atA.request('DescribeImages', { RegionId: SOURCE, ImageId: copyId, Status: TERRAFORM_STATUSES });
    assert.deepEqual(inSource.Images.Image, []);
  });

  await t.test('the exported copy is byte for byte the exported source', async () => {
    const sourceSha = await exportedSha256(atA, serverA, { region: SOURCE, imageId: sourceImageId, bucket: BUCKET, prefix: 'src' });
    const copySha = await exportedSha256(atB, serverB, { region: TARGET, imageId: copyId, bucket: BUCKET, prefix: 'copy' });
    assert.equal(sourceSha, source.sha256, 'the exported source differs from the imported disk');
    assert.equal(copySha, sourceSha, 'the exported copy differs from the exported source');
  });

  await t.test('DeleteImage of the copy, sent to the source process, removes it', async () => {
    await atA.request('DeleteImage', { RegionId: TARGET, ImageId: copyId });
    await pollUntil(async () => ((await describeInTarget(atB, copyId)).length === 0 ? true : undefined),
      { timeoutMs: 30_000, what: `copy ${copyId} gone from ${TARGET}` });
    const kept = await atA.request('DescribeImages', { RegionId: SOURCE, ImageId: sourceImageId });
    assert.equal(kept.Images.Image.length, 1);
  });
});

test('ecs20140526 (V3): copy and watch through the source process only', async () => {
  const ecs = ecsClient(serverA);
  // The first copy's lease on the source is released just after it ends.
  const res = await pollUntil(async () => {
    try {
      return await ecs.copyImage(new Ecs.CopyImageRequest({
        regionId: SOURCE,
        imageId: sourceImageId,
        destinationRegionId: TARGET,
        destinationImageName: 'sdk-copy',
        encrypted: false,
        tag: [new Ecs.CopyImageRequestTag({ key: 'team', value: 'ferry' })],
      }));
    } catch (err) {
      if (err.code === 'OperationDenied.ImageCopyConflict') return undefined;
      throw err;
    }
  }, { timeoutMs: 30_000, what: 'CopyImage accepted' });
  assert.equal(res.statusCode, 200);
  const copyId = res.body.imageId;
  assert.match(copyId, /^m-[a-z0-9]+$/);

  const image = await waitCopyAvailableSdk(ecs, TARGET, copyId, logsOf);
  assert.equal(image.isCopied, true);
  assert.equal(image.progress, '100%');
  assert.equal(image.imageName, 'sdk-copy');
  assert.deepEqual(image.tags.tag.map((tag) => [tag.tagKey, tag.tagValue]), [['team', 'ferry']]);

  await ecs.deleteImage(new Ecs.DeleteImageRequest({ regionId: TARGET, imageId: copyId }));
  const atB = ecsClient(serverB);
  await pollUntil(async () => {
    const left = await atB.describeImages(new Ecs.DescribeImagesRequest({
      regionId: TARGET, imageId: copyId, status: TERRAFORM_STATUSES,
    }));
    return (left.body.images?.image ?? []).length === 0 ? true : undefined;
  }, { timeoutMs: 30_000, what: `copy ${copyId} gone from ${TARGET}` });
});
