#include "region/local_chunk_source.h"

#include <utility>

#include "common/hash.h"
#include "store/chunk_format.h"

namespace ferry {
namespace {

class LocalChunkSource final : public ChunkSource {
 public:
  explicit LocalChunkSource(std::function<Region*(const std::string&)> resolve)
      : resolve_(std::move(resolve)) {}

  Result<Manifest> FetchManifest(const std::string& region_id, const std::string& snapshot_id) override {
    ASSIGN_OR_RETURN(Region * region, Resolve(region_id));
    ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, region->PeerReadManifest(snapshot_id));
    Result<Manifest> m = DecodeManifest(bytes);
    if (!m.ok()) {
      return DataLoss("manifest of snapshot " + snapshot_id + " in region " + region_id +
                      " does not decode: " + m.status().ToString());
    }
    return m;
  }

  Result<std::vector<uint8_t>> FetchChunk(const std::string& region_id, const ChunkId& id,
                                          uint64_t* wire_bytes) override {
    ASSIGN_OR_RETURN(Region * region, Resolve(region_id));
    // The object, not the plaintext: it carries the scope the id was
    // computed with (chunk_id.h), so the chunk is verified here as a peer
    // would verify it.
    ASSIGN_OR_RETURN(std::vector<uint8_t> object, region->PeerReadChunkStored(id));
    Result<std::vector<uint8_t>> data = DecodeVerifiedChunkObject(id, object);
    if (!data.ok()) {
      return DataLoss("chunk " + ToHex(id) + " from region " + region_id + ": " + data.status().message());
    }
    if (wire_bytes != nullptr) *wire_bytes = data->size();
    return data;
  }

  Result<std::vector<uint8_t>> FetchChunkObject(const std::string& region_id, const ChunkId& id,
                                                uint64_t /*length*/, uint64_t* wire_bytes) override {
    ASSIGN_OR_RETURN(Region * region, Resolve(region_id));
    ASSIGN_OR_RETURN(std::vector<uint8_t> object, region->PeerReadChunkStored(id));
    Result<ChunkHeader> header = CheckChunkObject(object);
    if (!header.ok()) {
      return DataLoss("chunk " + ToHex(id) + " from region " + region_id + ": " + header.status().message());
    }
    if (wire_bytes != nullptr) *wire_bytes = object.size();
    return object;
  }

 private:
  Result<Region*> Resolve(const std::string& region_id) {
    Region* region = resolve_ ? resolve_(region_id) : nullptr;
    if (region == nullptr) return Unavailable("region " + region_id + " is not served by this process");
    return region;
  }

  const std::function<Region*(const std::string&)> resolve_;
};

}  // namespace

std::unique_ptr<ChunkSource> NewLocalChunkSource(std::function<Region*(const std::string&)> resolve) {
  return std::make_unique<LocalChunkSource>(std::move(resolve));
}

}  // namespace ferry
