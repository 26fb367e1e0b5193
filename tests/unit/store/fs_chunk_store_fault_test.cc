// A chunk write that fails or is cut off half-way leaves the chunk whole or
// absent: errors injected at each step of FsChunkStore's write (create, a
// half-done write, fdatasync, rename), in-process and in a child process
// that dies mid-write.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "store/chunk_format.h"
#include "store/fs_chunk_store.h"
#include "store_test_util.h"

namespace ferry {
namespace {

using testing_util::CompressibleBytes;
using testing_util::RandomBytes;
using testing_util::ScratchDir;
using WriteStep = FsChunkStore::WriteStep;

std::unique_ptr<FsChunkStore> OpenStore(const std::string& root) {
  auto store = FsChunkStore::Open(root);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

size_t CountChunks(FsChunkStore& store) {
  size_t n = 0;
  EXPECT_TRUE(store.List([&](const ChunkId&) { ++n; }).ok());
  return n;
}

const char* StepName(WriteStep step) {
  switch (step) {
    case WriteStep::kCreate:
      return "create";
    case WriteStep::kWrite:
      return "write";
    case WriteStep::kSync:
      return "sync";
    case WriteStep::kRename:
      return "rename";
  }
  return "?";
}

constexpr WriteStep kSteps[] = {WriteStep::kCreate, WriteStep::kWrite, WriteStep::kSync, WriteStep::kRename};

// Each way to put a chunk: compressed, raw (incompressible), a stored
// object as PutStored writes it (the O_DIRECT path), and one written in a
// batch and committed (a copy's path: the sync and rename steps come at the
// commit).
enum class PutKind { kCompressible, kRaw, kStored, kBatched };

Status PutOne(FsChunkStore& store, PutKind kind, const std::vector<uint8_t>& data, bool* newly) {
  const ChunkId id = Sha256::Of(data);
  if (kind == PutKind::kCompressible || kind == PutKind::kRaw) return store.Put(id, data, newly);
  ScratchDir other;
  auto source = OpenStore(other.path());
  if (source == nullptr) return Internal("no source store");
  RETURN_IF_ERROR(source->Put(id, data));
  ASSIGN_OR_RETURN(std::vector<uint8_t> object, source->GetStored(id));
  if (kind == PutKind::kStored) return store.PutStored(id, object, newly);
  std::unique_ptr<ChunkWriteBatch> batch = store.NewWriteBatch();
  Status st = batch->PutStored(id, object, newly);
  if (st.ok()) st = batch->Commit();
  // Written, but not stored: the commit failed.
  if (!st.ok() && newly != nullptr) *newly = false;
  return st;
}

std::vector<uint8_t> DataFor(PutKind kind, uint64_t seed) {
  // Not a multiple of 4 KiB, so a stored object has a direct part and a tail.
  return kind == PutKind::kCompressible ? CompressibleBytes(3 * 1024 * 1024 + 777, seed)
                                        : RandomBytes(3 * 1024 * 1024 + 777, seed);
}

class FsChunkStoreFaultTest : public ::testing::TestWithParam<PutKind> {};

TEST_P(FsChunkStoreFaultTest, FailedStepLeavesNoChunkNoTempFileAndARetrySucceeds) {
  uint64_t seed = 100;
  for (WriteStep step : kSteps) {
    SCOPED_TRACE(StepName(step));
    ScratchDir dir;
    auto store = OpenStore(dir.path());
    ASSERT_NE(store, nullptr);
    const std::vector<uint8_t> data = DataFor(GetParam(), ++seed);
    const ChunkId id = Sha256::Of(data);

    int asked = 0;
    store->SetWriteFaultHookForTesting([&](WriteStep s) {
      if (s != step) return 0;
      ++asked;
      return ENOSPC;
    });
    bool newly = true;
    Status st = PutOne(*store, GetParam(), data, &newly);
    EXPECT_EQ(asked, 1);
    ASSERT_FALSE(st.ok());
    EXPECT_FALSE(newly);
    EXPECT_NE(st.ToString().find(ToHex(id)), std::string::npos) << st.ToString();
    EXPECT_EQ(st.code(), Code::kResourceExhausted) << st.ToString();

    // Absent, not partial: no file under the chunk's name, no temp file left.
    EXPECT_FALSE(std::filesystem::exists(store->ChunkPath(id)));
    Result<bool> has = store->Has(id);
    ASSERT_TRUE(has.ok());
    EXPECT_FALSE(*has);
    EXPECT_EQ(CountEntries(dir.Sub("tmp")), 0u);
    EXPECT_EQ(CountChunks(*store), 0u);
    EXPECT_EQ(store->Get(id).status().code(), Code::kNotFound);

    // With the disk back, the same put stores the whole chunk.
    store->SetWriteFaultHookForTesting(nullptr);
    ASSERT_TRUE(PutOne(*store, GetParam(), data, &newly).ok());
    EXPECT_TRUE(newly);
    ASSERT_TRUE(store->Sync().ok());
    Result<std::vector<uint8_t>> got = store->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == data);
  }
}

TEST_P(FsChunkStoreFaultTest, ProcessDyingMidWriteLeavesTheChunkAbsentAfterReopen) {
  uint64_t seed = 200;
  for (WriteStep step : kSteps) {
    SCOPED_TRACE(StepName(step));
    ScratchDir dir;
    const std::vector<uint8_t> data = DataFor(GetParam(), ++seed);
    const ChunkId id = Sha256::Of(data);
    {
      // An earlier chunk, whole, must survive the crash.
      auto store = OpenStore(dir.path());
      ASSERT_NE(store, nullptr);
      ASSERT_TRUE(store->Put(Sha256::Of(RandomBytes(5000, seed)), RandomBytes(5000, seed)).ok());
      ASSERT_TRUE(store->Sync().ok());
    }
    // The child dies at `step` (at kWrite, half the object is in the file).
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = FsChunkStore::Open(dir.path());
      if (!store.ok()) ::_exit(3);
      (*store)->SetWriteFaultHookForTesting([&](WriteStep s) {
        if (s == step) ::_exit(0);
        return 0;
      });
      (void)PutOne(**store, GetParam(), data, nullptr);
      ::_exit(4);  // the hook should have ended the process
    }
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFEXITED(wstatus));
    ASSERT_EQ(WEXITSTATUS(wstatus), 0);

    // The write was cut off: its temp file is left (but for a death before
    // the create), the chunk name was never made.
    EXPECT_EQ(CountEntries(dir.Sub("tmp")), step == WriteStep::kCreate ? 0u : 1u);
    auto store = OpenStore(dir.path());
    ASSERT_NE(store, nullptr);
    EXPECT_FALSE(std::filesystem::exists(store->ChunkPath(id)));
    EXPECT_EQ(CountEntries(dir.Sub("tmp")), 0u) << "Open removes the interrupted write's temp file";
    EXPECT_EQ(CountChunks(*store), 1u);
    EXPECT_EQ(store->Get(id).status().code(), Code::kNotFound);

    bool newly = false;
    ASSERT_TRUE(PutOne(*store, GetParam(), data, &newly).ok());
    EXPECT_TRUE(newly);
    Result<std::vector<uint8_t>> got = store->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == data);
  }
}

TEST(FsChunkStoreFaultHookTest, HookSeesEveryStepOfAWriteInOrderAndNoneForAPresentChunk) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_NE(store, nullptr);
  std::vector<WriteStep> seen;
  store->SetWriteFaultHookForTesting([&](WriteStep s) {
    seen.push_back(s);
    return 0;
  });
  const std::vector<uint8_t> data = RandomBytes(10000, 7);
  ASSERT_TRUE(store->Put(Sha256::Of(data), data).ok());
  EXPECT_EQ(seen, std::vector<WriteStep>(std::begin(kSteps), std::end(kSteps)));
  seen.clear();
  ASSERT_TRUE(store->Put(Sha256::Of(data), data).ok());
  EXPECT_TRUE(seen.empty());
}

TEST(FsChunkStoreFaultHookTest, ABatchedWriteIsCreatedAndWrittenAtItsPutThenSyncedAndRenamedAtTheCommit) {
  ScratchDir src_dir, dir;
  auto source = OpenStore(src_dir.path());
  auto store = OpenStore(dir.path());
  ASSERT_NE(source, nullptr);
  ASSERT_NE(store, nullptr);
  std::vector<WriteStep> seen;
  store->SetWriteFaultHookForTesting([&](WriteStep s) {
    seen.push_back(s);
    return 0;
  });
  std::unique_ptr<ChunkWriteBatch> batch = store->NewWriteBatch();
  for (uint64_t seed : {31, 32}) {
    const std::vector<uint8_t> data = RandomBytes(10000, seed);
    ASSERT_TRUE(source->Put(Sha256::Of(data), data).ok());
    ASSERT_TRUE(batch->PutStored(Sha256::Of(data), *source->GetStored(Sha256::Of(data)), nullptr).ok());
  }
  EXPECT_EQ(seen, (std::vector<WriteStep>{WriteStep::kCreate, WriteStep::kWrite, WriteStep::kCreate,
                                          WriteStep::kWrite}));
  seen.clear();
  ASSERT_TRUE(batch->Commit().ok());
  EXPECT_EQ(seen, (std::vector<WriteStep>{WriteStep::kSync, WriteStep::kRename, WriteStep::kSync,
                                          WriteStep::kRename}));
}

INSTANTIATE_TEST_SUITE_P(Kinds, FsChunkStoreFaultTest,
                         ::testing::Values(PutKind::kCompressible, PutKind::kRaw, PutKind::kStored,
                                           PutKind::kBatched),
                         [](const ::testing::TestParamInfo<PutKind>& info) -> std::string {
                           switch (info.param) {
                             case PutKind::kCompressible:
                               return "Compressible";
                             case PutKind::kRaw:
                               return "Raw";
                             case PutKind::kStored:
                               return "Stored";
                             case PutKind::kBatched:
                               return "Batched";
                           }
                           return "Unknown";
                         });

}  // namespace
}  // namespace ferry
