'use strict';
// Error answers: the exact ECS error Code and HTTP status, as each SDK
// reports them, and hand-made V1 requests for what no SDK sends (a stale
// timestamp, a nonce used twice).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startFerry } = require('./lib/ferry_server');
const { Ecs, popCoreClient, ecsClient, expectApiError, REGION } = require('./lib/clients');
const { signV1, postForm } = require('./lib/rpc_v1');
const { ALL_IMAGE_STATUSES, putRawImage, importAvailableImage } = require('./lib/images');

const BUCKET = 'e2e-errors';
const SIGNATURE_MISMATCH_PREFIX = 'Specified signature is not matched with our calculation. server string to sign is:';
const UNKNOWN_IMAGE = 'm-e2eunknownimage0000';
let server;
let popCore;
let ecs;
let imageId;

before(async () => {
  server = await startFerry();
  popCore = popCoreClient(server);
  ecs = ecsClient(server);
  await putRawImage(server, BUCKET, 'disk.raw');
  imageId = await importAvailableImage(popCore, { region: REGION, bucket: BUCKET, object: 'disk.raw', name: 'errors-base' });
});

after(async () => {
  if (server) await server.stop();
});

function signedByRoot(action, params, options = {}) {
  return signV1({ action, params, accessKeyId: server.accessKeyId, accessKeySecret: server.accessKeySecret, ...options });
}

test('wrong secret: 400 SignatureDoesNotMatch', async (t) => {
  const wrongSecret = crypto.randomBytes(15).toString('hex');
  await t.test('pop-core (V1)', async () => {
    const client = popCoreClient(server, { accessKeySecret: wrongSecret });
    const err = await expectApiError(client.request('DescribeRegions', {}));
    assert.deepEqual([err.code, err.status], ['SignatureDoesNotMatch', 400]);
    assert.ok(err.message.startsWith(SIGNATURE_MISMATCH_PREFIX), err.message);
  });
  await t.test('ecs20140526 (V3)', async () => {
    const client = ecsClient(server, { accessKeySecret: wrongSecret });
    const err = await expectApiError(client.describeRegions(new Ecs.DescribeRegionsRequest({})));
    assert.deepEqual([err.code, err.status], ['SignatureDoesNotMatch', 400]);
  });
});

test('timestamp an hour old: 400 InvalidTimeStamp.Expired', async () => {
  const params = signedByRoot('DescribeRegions', {}, { timestamp: new Date(Date.now() - 3600 * 1000) });
  const res = await postForm(server.endpoint, params);
  assert.deepEqual([res.body.Code, res.statusCode], ['InvalidTimeStamp.Expired', 400], JSON.stringify(res.body));
});

test('Timestamp with milliseconds, as older SDKs send it: accepted, within the same window', async () => {
  const withMillis = signedByRoot('DescribeRegions', {}, { params: { Timestamp: new Date().toISOString() } });
  assert.match(withMillis.Timestamp, /\.\d{3}Z$/);
  const ok = await postForm(server.endpoint, withMillis);
  assert.equal(ok.statusCode, 200, JSON.stringify(ok.body));
  const stale = signedByRoot('DescribeRegions', {}, { params: { Timestamp: new Date(Date.now() - 3600 * 1000).toISOString() } });
  const res = await postForm(server.endpoint, stale);
  assert.deepEqual([res.body.Code, res.statusCode], ['InvalidTimeStamp.Expired', 400], JSON.stringify(res.body));
});

test('nonce used twice: the second request is 400 SignatureNonceUsed', async () => {
  const params = signedByRoot('DescribeRegions', {});
  const first = await postForm(server.endpoint, params);
  assert.equal(first.statusCode, 200, JSON.stringify(first.body));
  assert.ok(first.body.Regions.Region.length > 0);
  const replay = await postForm(server.endpoint, params);
  assert.deepEqual([replay.body.Code, replay.statusCode], ['SignatureNonceUsed', 400], JSON.stringify(replay.body));
});

test('unknown AccessKeyId: 404 InvalidAccessKeyId.NotFound', async (t) => {
  const stranger = { accessKeyId: 'LTAIunknown' + crypto.randomBytes(6).toString('hex'), accessKeySecret: 'whatever' };
  await t.test('pop-core (V1)', async () => {
    const err = await expectApiError(popCoreClient(server, stranger).request('DescribeRegions', {}));
    assert.deepEqual([err.code, err.status], ['InvalidAccessKeyId.NotFound', 404]);
  });
  await t.test('ecs20140526 (V3)', async () => {
    const err = await expectApiError(ecsClient(server, stranger).describeRegions(new Ecs.DescribeRegionsRequest({})));
    assert.deepEqual([err.code, err.status], ['InvalidAccessKeyId.NotFound', 404]);
  });
});

test('missing required parameter: 400 MissingParameter', async (t) => {
  await t.test('pop-core: DeleteImage without ImageId', async () => {
    const err = await expectApiError(popCore.request('DeleteImage', { RegionId: REGION }));
    assert.deepEqual([err.code, err.status], ['MissingParameter', 400]);
  });
  await t.test('ecs20140526: DescribeImages without RegionId', async () => {
    const err = await expectApiError(ecs.describeImages(new Ecs.DescribeImagesRequest({ imageId })));
    assert.deepEqual([err.code, err.status], ['MissingParameter', 400]);
  });
});

test('DeleteImage of an unknown image: 404 InvalidImageId.NotFound', async (t) => {
  await t.test('pop-core (V1)', async () => {
    const err = await expectApiError(popCore.request('DeleteImage', { RegionId: REGION, ImageId: UNKNOWN_IMAGE }));
    assert.deepEqual([err.code, err.status], ['InvalidImageId.NotFound', 404]);
  });
  await t.test('ecs20140526 (V3)', async () => {
    const err = await expectApiError(ecs.deleteImage(new Ecs.DeleteImageRequest({ regionId: REGION, imageId: UNKNOWN_IMAGE })));
    assert.deepEqual([err.code, err.status], ['InvalidImageId.NotFound', 404]);
  });
});

test('ModifyImageAttribute with a malformed name: 400 InvalidImageName.Malformed, name kept', async (t) => {
  await t.test('pop-core (V1)', async () => {
    const err = await expectApiError(popCore.request('ModifyImageAttribute', { RegionId: REGION, ImageId: imageId, ImageName: '1bad' }));
    assert.deepEqual([err.code, err.status], ['InvalidImageName.Malformed', 400]);
  });
  await t.test('ecs20140526 (V3)', async () => {
    const err = await expectApiError(ecs.modifyImageAttribute(new Ecs.ModifyImageAttributeRequest({
      regionId: REGION, imageId, imageName: '1bad',
    })));
    assert.deepEqual([err.code, err.status], ['InvalidImageName.Malformed', 400]);
  });
  const body = await popCore.request('DescribeImages', { RegionId: REGION, ImageId: imageId, Status: ALL_IMAGE_STATUSES });
  assert.equal(body.Images.Image[0].ImageName, 'errors-base');
});
