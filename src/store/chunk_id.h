// Chunk ids and dedup scopes: the one place a chunk id is computed.
//
// A chunk id is SHA-256 of the chunk's plaintext, or, for a scoped chunk,
// SHA-256(scope || plaintext). A scope is 32 bytes that partition
// deduplication: two chunks with the same plaintext and different scopes have
// different ids, so a store holds each once per scope and one scope cannot
// tell whether another holds a given block. Unscoped ids are the ids Ferry
// has always used; every chunk and manifest written before scopes stays valid.
// ARCHITECTURE.md ("Deduplication and tenants") explains the choice.
//
// Thread-safe: pure functions.
#pragma once

#include <span>
#include <string_view>

#include "common/hash.h"

namespace ferry {

using ChunkId = Digest256;
using ChunkScope = Digest256;

// The dedup scope of an account: SHA-256("ferry-dedup-scope-v1" || 0x00 ||
// account_id). Deterministic, so every process and region of a cluster (where
// account ids are cluster-wide) computes the same scope for an account.
ChunkScope AccountChunkScope(std::string_view account_id);

// SHA-256(*scope || plaintext) with a scope, SHA-256(plaintext) without.
ChunkId ComputeChunkId(const ChunkScope* scope, std::span<const uint8_t> plaintext);

}  // namespace ferry
