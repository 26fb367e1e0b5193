'use strict';
// The OSS endpoint with the official `ali-oss` SDK (6.23), configured as the
// wire reference recommends for a local endpoint (IP endpoint, sldEnable):
// a 1 GiB raw disk uploaded with multipartUpload (V1 signatures), listed,
// headed and read by range; imported with the ECS SDK from that bucket,
// exported, and the export downloaded with a presigned URL (V1 and V4) by
// plain HTTP: its SHA-256 is the original's. V4 signatures for the smaller
// calls; a wrong key, another account's bucket and a missing object each
// answer with the OSS error code.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const OSS = require('ali-oss');
const { startFerry } = require('./lib/ferry_server');
const { popCoreClient, REGION } = require('./lib/clients');
const { ALL_IMAGE_STATUSES } = require('./lib/images');
const { sha256File, MiB } = require('./lib/disk_image');
const { pollUntil } = require('./lib/wait');

const GiB = 1024 * MiB;
const BUCKET = 'e2e-alioss';
const DISK_KEY = 'disks/ubuntu-1g.raw';
const TIMEOUT_MS = 300_000;

let server;
let v1;      // ali-oss, signature V1
let v4;      // ali-oss, authorizationV4
let diskFile;
let diskSha256;

function ossClient({ accessKeyId = server.accessKeyId, accessKeySecret = server.accessKeySecret, authorizationV4 = false, endpoint = server.ossEndpoint } = {}) {
  return new OSS({
    endpoint, sldEnable: true, region: 'oss-cn-hangzhou',
    accessKeyId, accessKeySecret, bucket: BUCKET, authorizationV4, timeout: TIMEOUT_MS,
  });
}

// A 1 GiB raw disk, quick to make: random 1 MiB extents every 16 MiB (a
// file system's scattered data), zeros elsewhere.
function writeDisk(file) {
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, GiB);
    for (let offset = 0; offset < GiB; offset += 16 * MiB) {
      fs.writeSync(fd, crypto.randomBytes(MiB), 0, MiB, offset + (offset / 16) % (15 * MiB));
    }
  } finally {
    fs.closeSync(fd);
  }
}

// GET `url` with plain HTTP; resolves {status, sha256, bytes}.
function fetchSha256(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk) => { hash.update(chunk); bytes += chunk.length; });
      res.on('end', () => resolve({ status: res.statusCode, sha256: hash.digest('hex'), bytes }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

// The OSS error an ali-oss call rejects with: {code, status}.
async function ossError(promise) {
  try {
    await promise;
  } catch (err) {
    return { code: err.code, status: err.status, requestId: err.requestId };
  }
  throw new Error('the call succeeded');
}

before(async () => {
  server = await startFerry();
  assert.match(server.ossEndpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
  v1 = ossClient();
  v4 = ossClient({ authorizationV4: true });
  diskFile = path.join(server.workDir, 'disk.raw');
  writeDisk(diskFile);
  diskSha256 = await sha256File(diskFile);
  await v1.putBucket(BUCKET);
});

after(async () => {
  if (server) await server.stop();
});

test('a 1 GiB raw disk goes up with multipartUpload, the progress callback firing', { timeout: TIMEOUT_MS }, async () => {
  const seen = [];
  const result = await v1.multipartUpload(DISK_KEY, diskFile, {
    partSize: 16 * MiB, parallel: 4, progress: (fraction) => { seen.push(fraction); },
  });
  assert.equal(result.res.status, 200);
  assert.ok(seen.length >= 10, `progress fired ${seen.length} times`);
  assert.equal(seen[seen.length - 1], 1);
  for (let i = 1; i < seen.length; i += 1) assert.ok(seen[i] >= seen[i - 1], 'progress never goes back');
});

test('list, listV2, head and a ranged get see the disk', async () => {
  const listed = await v1.list({ prefix: 'disks/', 'max-keys': 10 });
  assert.deepEqual(listed.objects.map((o) => o.name), [DISK_KEY]);
  assert.equal(listed.objects[0].size, GiB);
  const byDir = await v4.list({ delimiter: '/' });
  assert.deepEqual(byDir.prefixes, ['disks/']);
  const listedV2 = await v4.listV2({ prefix: 'disks/' });
  assert.equal(listedV2.keyCount, 1);
  assert.equal(listedV2.objects[0].name, DISK_KEY);

  const head = await v4.head(DISK_KEY);
  assert.equal(head.status, 200);
  assert.equal(Number(head.res.headers['content-length']), GiB);
  assert.match(head.res.headers.etag, /^"[0-9A-F]{32}-64"$/);
  assert.equal(head.res.headers['x-oss-object-type'], 'Multipart');

  const expected = Buffer.alloc(4096);
  const fd = fs.openSync(diskFile, 'r');
  fs.readSync(fd, expected, 0, 4096, 16 * MiB + 1000);
  fs.closeSync(fd);
  const ranged = await v1.get(DISK_KEY, null, { headers: { Range: `bytes=${16 * MiB + 1000}-${16 * MiB + 5095}` } });
  assert.equal(ranged.res.status, 206);
  assert.equal(ranged.res.headers['content-range'], `bytes ${16 * MiB + 1000}-${16 * MiB + 5095}/${GiB}`);
  assert.ok(Buffer.compare(ranged.content, expected) === 0, 'the range holds the file bytes');
});

test('smaller objects with V4: put with Content-MD5, get, multipart, delete', async () => {
  const body = crypto.randomBytes(300 * 1024);
  const put = await v4.put('small/a b+c.bin', body);
  assert.equal(put.res.status, 200);
  assert.ok(put.res.headers['x-oss-hash-crc64ecma'], 'x-oss-hash-crc64ecma is returned');
  const got = await v4.get('small/a b+c.bin');
  assert.ok(Buffer.compare(got.content, body) === 0);
  const file = path.join(server.workDir, 'three.bin');
  fs.writeFileSync(file, crypto.randomBytes(3 * MiB + 7));
  await v4.multipartUpload('small/three.bin', file, { partSize: MiB });
  const head = await v4.head('small/three.bin');
  assert.equal(Number(head.res.headers['content-length']), 3 * MiB + 7);
  const deleted = await v4.deleteMulti(['small/a b+c.bin', 'small/three.bin']);
  assert.equal(deleted.deleted.length, 2);
  const after = await v4.list({ prefix: 'small/' });
  assert.deepEqual(after.objects ?? [], []);
});

test('the uploaded disk imports with the ECS SDK, exports, and downloads by presigned URL intact', { timeout: TIMEOUT_MS }, async () => {
  const ecs = popCoreClient(server);
  const imported = await ecs.request('ImportImage', {
    RegionId: REGION, ImageName: 'alioss-disk',
    'DiskDeviceMapping.1.OSSBucket': BUCKET, 'DiskDeviceMapping.1.OSSObject': DISK_KEY,
    'DiskDeviceMapping.1.Format': 'RAW',
  });
  await pollUntil(async () => {
    const body = await ecs.request('DescribeImages', { RegionId: REGION, ImageId: imported.ImageId, Status: ALL_IMAGE_STATUSES });
    const status = body.Images?.Image?.[0]?.Status;
    if (status === 'CreateFailed' || status === 'UnAvailable') throw new Error(`import failed: ${status}`);
    return status === 'Available' ? true : undefined;
  }, { timeoutMs: TIMEOUT_MS, what: `image ${imported.ImageId} Available` });

  const exported = await ecs.request('ExportImage', {
    RegionId: REGION, ImageId: imported.ImageId, OSSBucket: BUCKET, OSSPrefix: 'exported', ImageFormat: 'raw',
  });
  await pollUntil(async () => {
    const attr = await ecs.request('DescribeTaskAttribute', { RegionId: REGION, TaskId: exported.TaskId });
    if (attr.TaskStatus === 'Failed') throw new Error(`export failed: ${JSON.stringify(attr)}`);
    return attr.TaskStatus === 'Finished' ? attr : undefined;
  }, { timeoutMs: TIMEOUT_MS, what: `export ${exported.TaskId} Finished` });

  const listed = await v1.list({ prefix: 'exported' });
  assert.equal(listed.objects.length, 1, JSON.stringify(listed.objects));
  const exportKey = listed.objects[0].name;
  assert.equal(listed.objects[0].size, GiB);

  // ali-oss presigns for a host name only (an IP endpoint throws): sign for
  // localhost, fetch from the address the server listens on (the host is
  // not part of what either signature covers).
  const byName = `http://localhost:${server.ossPort}`;
  const toIp = (url) => url.replace(byName, server.ossEndpoint);
  const v1Url = toIp(ossClient({ endpoint: byName }).signatureUrl(exportKey, { expires: 600 }));
  const byV1 = await fetchSha256(v1Url);
  assert.equal(byV1.status, 200);
  assert.equal(byV1.bytes, GiB);
  assert.equal(byV1.sha256, diskSha256);

  const v4Url = toIp(await ossClient({ endpoint: byName, authorizationV4: true }).signatureUrlV4('GET', 600, undefined, exportKey));
  const byV4 = await fetchSha256(v4Url);
  assert.equal(byV4.status, 200);
  assert.equal(byV4.sha256, diskSha256);

  const tampered = await fetchSha256(v1Url.replace(/Signature=[^&]+/, 'Signature=AAAA'));
  assert.equal(tampered.status, 403);
});

test('a wrong key, another account\'s bucket and a missing object answer with OSS codes', async () => {
  const wrongSecret = await ossError(ossClient({ accessKeySecret: 'not-the-secret' }).get(DISK_KEY));
  assert.deepEqual([wrongSecret.code, wrongSecret.status], ['SignatureDoesNotMatch', 403]);
  const wrongSecretV4 = await ossError(ossClient({ accessKeySecret: 'nope', authorizationV4: true }).list());
  assert.deepEqual([wrongSecretV4.code, wrongSecretV4.status], ['SignatureDoesNotMatch', 403]);
  const unknownKey = await ossError(ossClient({ accessKeyId: 'LTAInosuchkey' }).list());
  assert.deepEqual([unknownKey.code, unknownKey.status], ['InvalidAccessKeyId', 403]);

  const account = await server.createAccount('oss-tenant-b');
  const other = ossClient({ accessKeyId: account.AccessKeyId, accessKeySecret: account.AccessKeySecret });
  const theirs = await ossError(other.get(DISK_KEY));
  assert.deepEqual([theirs.code, theirs.status], ['NoSuchBucket', 404]);
  const overwrite = await ossError(other.put(DISK_KEY, Buffer.from('intruder')));
  assert.deepEqual([overwrite.code, overwrite.status], ['NoSuchBucket', 404]);
  const take = await ossError(other.putBucket(BUCKET));
  assert.deepEqual([take.code, take.status], ['BucketAlreadyExists', 409]);

  const missing = await ossError(v1.get('disks/no-such.raw'));
  assert.deepEqual([missing.code, missing.status], ['NoSuchKey', 404]);
  assert.ok(missing.requestId, 'the error names its request id');
  const missingHead = await ossError(v4.head('disks/no-such.raw'));
  assert.equal(missingHead.status, 404);
});
