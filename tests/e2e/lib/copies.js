'use strict';
// Watching a copy the way Terraform's alicloud_image_copy does
// (reference: DescribeImages in the target region with every status, until
// the image is Available; CreateFailed/UnAvailable end the wait).

const assert = require('node:assert/strict');
const { Ecs } = require('./clients');
const { pollUntil } = require('./wait');

const TERRAFORM_STATUSES = 'Creating,Waiting,Available,UnAvailable,CreateFailed';

// DescribeImages of one image in `region` through a pop-core client.
async function describeImage(popCore, region, imageId) {
  const body = await popCore.request('DescribeImages', { RegionId: region, ImageId: imageId, Status: TERRAFORM_STATUSES });
  assert.ok(Array.isArray(body.Images?.Image), `Images.Image is a list: ${JSON.stringify(body)}`);
  return body.Images.Image;
}

// Polls through pop-core until the copy is Available; every answer on the
// way must list it with a well-formed Progress. `context()` adds to failures
// (server logs, say).
async function waitCopyAvailable(popCore, region, copyId, context = () => '') {
  return pollUntil(async () => {
    const [found] = await describeImage(popCore, region, copyId);
    assert.ok(found, `copy ${copyId} vanished from ${region}`);
    assert.ok(!['CreateFailed', 'UnAvailable'].includes(found.Status),
      `copy failed: ${JSON.stringify(found)}${context()}`);
    assert.match(found.Progress, /^\d{1,3}%$/);
    return found.Status === 'Available' ? found : undefined;
  }, { timeoutMs: 120_000, intervalMs: 1000, what: `copy ${copyId} Available in ${region}` });
}

// The same through an @alicloud/ecs20140526 client (camel-case fields).
async function waitCopyAvailableSdk(ecs, region, copyId, context = () => '') {
  return pollUntil(async () => {
    const described = await ecs.describeImages(new Ecs.DescribeImagesRequest({
      regionId: region, imageId: copyId, status: TERRAFORM_STATUSES,
    }));
    const [found] = described.body.images.image;
    assert.ok(found, `copy ${copyId} is listed`);
    assert.ok(!['CreateFailed', 'UnAvailable'].includes(found.status),
      `copy failed: ${JSON.stringify(found)}${context()}`);
    return found.status === 'Available' ? found : undefined;
  }, { timeoutMs: 120_000, intervalMs: 1000, what: `copy ${copyId} Available` });
}

module.exports = { TERRAFORM_STATUSES, describeImage, waitCopyAvailable, waitCopyAvailableSdk };
