// Driver of bench/disks_bench.sh: ingests a raw image into a chunk store
// (untimed), then times creating N disks from it through DiskStore (the first
// materializes the base), and prints what was written, as key=value lines.
//
//   disks_bench_tool WORK_DIR IMAGE N_DISKS DISK_SIZE_BYTES
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/ids.h"
#include "region/disks/disk_store.h"
#include "store/fs_chunk_store.h"
#include "store/ingest.h"

namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Bytes this process and its reaped children (qemu-img) caused to be written.
unsigned long long WriteBytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  unsigned long long v = 0;
  while (io >> key >> v) {
    if (key == "write_bytes:") return v;
  }
  return 0;
}

unsigned long long Allocated(const std::string& dir) {
  unsigned long long total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    struct stat st {};
    if (::stat(e.path().c_str(), &st) == 0) total += static_cast<unsigned long long>(st.st_blocks) * 512;
  }
  return total;
}

int Fail(const std::string& what, const ferry::Status& st) {
  std::fprintf(stderr, "disks_bench_tool: %s: %s\n", what.c_str(), st.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: disks_bench_tool WORK_DIR IMAGE N_DISKS DISK_SIZE_BYTES\n");
    return 2;
  }
  const std::string work = argv[1], image = argv[2];
  const int n = std::atoi(argv[3]);
  const uint64_t disk_size = std::strtoull(argv[4], nullptr, 10);

  auto chunks = ferry::FsChunkStore::Open(work + "/chunks");
  if (!chunks.ok()) return Fail("chunk store", chunks.status());
  auto t0 = Clock::now();
  auto m = ferry::IngestRawFile(image, **chunks, ferry::IngestOptions{});
  if (!m.ok()) return Fail("ingest", m.status());
  std::printf("ingest_secs=%.3f\n", Since(t0));

  // The store's own export path on the same manifest, for comparison with
  // the base materialization.
  t0 = Clock::now();
  ferry::Status mat = ferry::MaterializeRawFile(*m, **chunks, work + "/materialized.raw", {});
  if (!mat.ok()) return Fail("materialize", mat);
  std::printf("materialize_raw_secs=%.3f\n", Since(t0));
  std::filesystem::remove(work + "/materialized.raw");

  auto disks = ferry::DiskStore::Open(work + "/disks");
  if (!disks.ok()) return Fail("disk store", disks.status());
  const unsigned long long w0 = WriteBytes();
  const auto start = Clock::now();
  double first_secs = 0;
  for (int i = 0; i < n; ++i) {
    auto d = (*disks)->CreateDiskFromImage(ferry::NewResourceId("d"), *m, **chunks, disk_size);
    if (!d.ok()) return Fail("disk " + std::to_string(i), d.status());
    if (i == 0) first_secs = Since(start);
  }
  const double total_secs = Since(start);
  const unsigned long long written = WriteBytes() - w0;
  std::printf("disks=%d\n", n);
  std::printf("create_secs=%.3f\n", total_secs);
  std::printf("first_disk_secs=%.3f\n", first_secs);
  std::printf("write_bytes=%llu\n", written);
  std::printf("base_alloc_bytes=%llu\n", Allocated(work + "/disks/bases"));
  std::printf("overlay_alloc_bytes=%llu\n", Allocated(work + "/disks/disks"));
  return 0;
}
