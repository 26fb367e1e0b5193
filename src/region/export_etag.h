// The ETag of an object ExportImage writes as a raw disk.
//
// Decision (issue 12): an exported raw disk's ETag is not an MD5 of its
// bytes. Hashing every byte with MD5 was half of an export's CPU, and OSS
// documents the ETag of a multipart object as opaque (not the MD5 of the
// content); clients verify what they download by the CRC-64
// (x-oss-hash-crc64ecma), which stays exact. So the ETag is derived from
// what already identifies the bytes exactly, for free: the image's manifest.
//
//   digest = SHA-256("ferry-export-etag-v1" ‖ 0x00 ‖ logical_size u64 LE ‖
//                    chunk_size u32 LE ‖ Manifest::ContentDigest())
//   ETag   = "<first 16 bytes of digest, upper hex>-<N>"   (with the quotes)
//
// where N = ceil(logical_size / PutFilePartBytes(logical_size)) (at least
// 1): the part count of the same bytes sent in PutFile's uniform parts, so
// 1-10,000 as OSS allows; clients treat it as opaque.
//
// Same bytes, same ETag: the content digest covers every chunk's id and
// length, and a chunk id is SHA-256 of the chunk's dedup scope (a fixed 32
// bytes, or none) and plaintext, so (id, length) names one plaintext short
// of a SHA-256 collision, and the export verifies each chunk as it writes it
// (against its id, or the object digest that stands for it:
// ChunkStore::GetWithObjectDigest). Exports of one image, or of its copies
// (which keep the ids), have one ETag; the same bytes imported under two
// dedup scopes have two, as one file uploaded in two part layouts has two
// multipart ETags.
// Different bytes, different ETag (128 bits of SHA-256).
//
// Objects uploaded by clients (PutObject, multipart uploads, CopyObject)
// keep their MD5-based ETags and Content-MD5; an exported object carries no
// Content-MD5. Converted exports (qcow2, vhd, vmdk) are made by qemu-img,
// whose bytes the manifest does not describe: they keep the MD5 multipart
// ETag PutFile computes.
#pragma once

#include <string>

#include "store/manifest.h"

namespace ferry {

std::string ExportObjectEtag(const Manifest& m);

}  // namespace ferry
