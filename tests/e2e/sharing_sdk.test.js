'use strict';
// Sharing through @alicloud/ecs20140526 (signature V3): the owner (root)
// shares an image with a second account, which then sees it as "others",
// cannot delete it, and loses it when it is unshared. Responses are decoded
// into the SDK's typed models, so a wrongly shaped answer shows up as a
// missing field.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startFerry } = require('./lib/ferry_server');
const { Ecs, REGION, ecsClient, popCoreClient, expectApiError } = require('./lib/clients');
const { ALL_IMAGE_STATUSES, putRawImage, importAvailableImage } = require('./lib/images');

const BUCKET = 'e2e-sharing';
let server;
let owner;
let recipient;
let recipientId;
let imageId;

before(async () => {
  server = await startFerry();
  owner = ecsClient(server);
  await putRawImage(server, BUCKET, 'disk.raw');
  imageId = await importAvailableImage(popCoreClient(server),
    { region: REGION, bucket: BUCKET, object: 'disk.raw', name: 'shared-image' });
  const account = await server.createAccount('sharing-recipient');
  recipientId = account.AccountId;
  recipient = ecsClient(server, { accessKeyId: account.AccessKeyId, accessKeySecret: account.AccessKeySecret });
});

after(async () => {
  if (server) await server.stop();
});

async function othersImageIds(client) {
  const res = await client.describeImages(new Ecs.DescribeImagesRequest({
    regionId: REGION, imageOwnerAlias: 'others', status: ALL_IMAGE_STATUSES,
  }));
  assert.equal(res.statusCode, 200);
  return (res.body.images?.image ?? []).map((image) => image.imageId);
}

test('share, describe, use as others, unshare', async () => {
  assert.deepEqual(await othersImageIds(recipient), []);

  const shared = await owner.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({
    regionId: REGION, imageId, addAccount: [recipientId],
  }));
  assert.equal(shared.statusCode, 200);

  const perms = await owner.describeImageSharePermission(new Ecs.DescribeImageSharePermissionRequest({
    regionId: REGION, imageId,
  }));
  assert.equal(perms.body.imageId, imageId);
  assert.equal(perms.body.totalCount, 1);
  assert.deepEqual(perms.body.shareGroups.shareGroup, []);
  assert.equal(perms.body.accounts.account.length, 1);
  assert.equal(perms.body.accounts.account[0].aliyunId, recipientId);
  assert.match(perms.body.accounts.account[0].sharedTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  assert.deepEqual(await othersImageIds(recipient), [imageId]);
  const denied = await expectApiError(recipient.deleteImage(new Ecs.DeleteImageRequest({ regionId: REGION, imageId })));
  assert.equal(denied.code, 'Forbidden');
  assert.equal(denied.status, 403);
  const inUse = await expectApiError(owner.deleteImage(new Ecs.DeleteImageRequest({ regionId: REGION, imageId })));
  assert.equal(inUse.code, 'ImageUseShared');
  assert.equal(inUse.status, 403);
  const mine = await owner.describeImages(new Ecs.DescribeImagesRequest({ regionId: REGION, imageId }));
  assert.equal(mine.body.images.image[0].isSelfShared, 'true');
  // The owner's id from the file serve wrote (ImageOwnerId is an int64 that a
  // JS number may round).
  const ownerId = JSON.parse(fs.readFileSync(path.join(server.dataDir, 'root-credentials.json'))).AccountId;
  const self = await expectApiError(owner.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({
    regionId: REGION, imageId, addAccount: [ownerId],
  })));
  assert.equal(self.code, 'InvalidAccount.Forbbiden');
  assert.equal(self.status, 404);

  await owner.modifyImageSharePermission(new Ecs.ModifyImageSharePermissionRequest({
    regionId: REGION, imageId, removeAccount: [recipientId],
  }));
  assert.deepEqual(await othersImageIds(recipient), []);
  await owner.deleteImage(new Ecs.DeleteImageRequest({ regionId: REGION, imageId }));
});
