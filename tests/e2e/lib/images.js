'use strict';
// Image helpers shared by the lifecycle tests.

const fs = require('node:fs');
const path = require('node:path');
const { writeSparseImage, sha256File, MiB } = require('./disk_image');
const { pollUntil } = require('./wait');

// Every status an image can be in: DescribeImages defaults to Available only,
// so pollers pass the whole list, the way Terraform does.
const ALL_IMAGE_STATUSES = 'Creating,Waiting,Available,UnAvailable,CreateFailed';

// Puts a fresh sparse raw image at DATA/oss/<bucket>/<object>; resolves with
// {file, sha256, size}.
async function putRawImage(server, bucket, object, sizeBytes = 64 * MiB) {
  const file = path.join(server.bucketDir(bucket), object);
  writeSparseImage(file, sizeBytes);
  return { file, sha256: await sha256File(file), size: sizeBytes };
}

// The exported object: the name the task reports (OperationProgressSet ->
// RelatedItem OSSObject) when present, else the one object in the bucket that
// starts with `prefix`.
function exportedObjectPath(server, bucket, prefix, relatedItems = []) {
  const named = relatedItems.find((item) => (item.Name ?? item.name) === 'OSSObject');
  const dir = path.join(server.dataDir, 'oss', bucket);
  if (named) return path.join(dir, named.Value ?? named.value);
  const candidates = fs.readdirSync(dir).filter((name) => name.startsWith(prefix) && !name.startsWith('.'));
  if (candidates.length !== 1) {
    throw new Error(`expected one exported object with prefix ${prefix} in ${dir}, found ${JSON.stringify(candidates)}`);
  }
  return path.join(dir, candidates[0]);
}

module.exports = { ALL_IMAGE_STATUSES, putRawImage, exportedObjectPath, sha256File, MiB };

// Imports DATA/oss/<bucket>/<object> through pop-core as `name` and waits
// until the image is Available; resolves with the image id.
async function importAvailableImage(popCore, { region, bucket, object, name }) {
  const imported = await popCore.request('ImportImage', {
    RegionId: region,
    ImageName: name,
    'DiskDeviceMapping.1.OSSBucket': bucket,
    'DiskDeviceMapping.1.OSSObject': object,
    'DiskDeviceMapping.1.Format': 'RAW',
  });
  const imageId = imported.ImageId;
  await pollUntil(async () => {
    const body = await popCore.request('DescribeImages', { RegionId: region, ImageId: imageId, Status: ALL_IMAGE_STATUSES });
    const status = body.Images?.Image?.[0]?.Status;
    if (status === 'CreateFailed' || status === 'UnAvailable') throw new Error(`import of ${imageId} failed: ${status}`);
    return status === 'Available' ? true : undefined;
  }, { timeoutMs: 120_000, what: `image ${imageId} Available` });
  return imageId;
}

module.exports.importAvailableImage = importAvailableImage;

// Exports `imageId` of `region` as RAW into DATA/oss/<bucket> of `server`
// (the process that serves `region`) through pop-core, waits for the task
// and resolves with the exported file's hex SHA-256.
async function exportedSha256(popCore, server, { region, imageId, bucket, prefix }) {
  server.bucketDir(bucket);
  const exported = await popCore.request('ExportImage', {
    RegionId: region, ImageId: imageId, OSSBucket: bucket, OSSPrefix: prefix, ImageFormat: 'raw',
  });
  const task = await pollUntil(async () => {
    const attr = await popCore.request('DescribeTaskAttribute', { RegionId: region, TaskId: exported.TaskId });
    if (attr.TaskStatus === 'Failed') throw new Error(`export of ${imageId} failed: ${JSON.stringify(attr)}`);
    return attr.TaskStatus === 'Finished' ? attr : undefined;
  }, { timeoutMs: 120_000, what: `export task ${exported.TaskId} Finished` });
  const related = task.OperationProgressSet?.OperationProgress?.[0]?.RelatedItemSet?.RelatedItem ?? [];
  return sha256File(exportedObjectPath(server, bucket, prefix, related));
}

module.exports.exportedSha256 = exportedSha256;
