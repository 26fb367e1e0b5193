'use strict';
// Small raw disk images for the import/export round trip.

const crypto = require('node:crypto');
const fs = require('node:fs');

const MiB = 1024 * 1024;

// Writes a sparse raw image of `sizeBytes` with random data at offsets chosen
// to hit the interesting chunking cases (4 MiB chunks): a full chunk at 0, a
// run that straddles a chunk boundary at an unaligned offset, a small island
// inside an otherwise empty chunk, the same 4 MiB written twice (duplicate
// chunks), and the very last bytes of the image. Everything else is a hole.
function writeSparseImage(file, sizeBytes = 64 * MiB) {
  if (sizeBytes < 64 * MiB) throw new Error('writeSparseImage needs at least 64 MiB');
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, sizeBytes);
    const put = (offset, buffer) => fs.writeSync(fd, buffer, 0, buffer.length, offset);
    put(0, crypto.randomBytes(4 * MiB));
    put(7 * MiB + 12345, crypto.randomBytes(3 * MiB));        // crosses the 8 MiB boundary
    put(21 * MiB + 4096, crypto.randomBytes(64 * 1024));      // island in chunk 5
    const repeated = crypto.randomBytes(4 * MiB);
    put(32 * MiB, repeated);                                  // chunks 8 and 12 are identical
    put(48 * MiB, repeated);
    put(sizeBytes - 4096, crypto.randomBytes(4096));          // tail
  } finally {
    fs.closeSync(fd);
  }
}

// Hex SHA-256 of a whole file, streamed.
function sha256File(file) {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    fs.createReadStream(file, { highWaterMark: 4 * MiB })
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

module.exports = { writeSparseImage, sha256File, MiB };
