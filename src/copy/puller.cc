#include "copy/puller.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <semaphore>
#include <span>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/catch_all.h"
#include "common/hash.h"
#include "common/log_safe.h"
#include "store/chunk_format.h"

namespace ferry {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kProgressInterval = milliseconds(100);
// bytes_per_second averages over this much recent time: long enough to smooth
// the bursts of `in_flight` chunks landing together, short enough to follow a
// change of link.
constexpr auto kRateWindow = std::chrono::seconds(5);
// Real sleeps wake this often to notice cancellation, which is a flag that
// nobody signals.
constexpr auto kCancelPollInterval = milliseconds(50);
// Stored chunks are committed (ChunkWriteBatch) once this many wait, or at
// the next progress report: enough for one disk flush to serve many, few
// enough that the disk has the rest of them under way while the copy goes
// on receiving.
constexpr size_t kCommitChunks = 16;

bool IsCancelled(const std::atomic<bool>* cancel) {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

struct ChunkIdHash {
  size_t operator()(const ChunkId& id) const {
    // The id is a SHA-256: any 8 of its bytes are already uniformly spread.
    size_t h;
    std::memcpy(&h, id.data(), sizeof(h));
    return h;
  }
};

// One distinct data chunk of the manifest.
struct WantedChunk {
  ChunkId id{};
  uint64_t first_entry = 0;  // for error messages
  uint32_t length = 0;
  uint64_t entries = 0;  // manifest entries that reference it
  uint64_t bytes = 0;    // plaintext bytes of those entries
  // From an authenticated manifest only: the object is verified by this
  // digest instead of being decoded and hashed (chunk_format.md).
  std::optional<Digest256> object_digest;
  // Set by the worker that pulled it: this store now holds the very object
  // `object_digest` names, so the manifest it commits may keep the digest.
  bool holds_digested_object = false;
};

// The pull's notion of "now". It is the steady clock, except that a sleep
// through the options.sleep seam moves it forward as a real sleep would, so
// retry_for and the rate limit behave in tests exactly as in production
// without anyone waiting. Several threads sleeping at once advance it to the
// latest wake-up, not the sum, as real time would.
class PullClock {
 public:
  explicit PullClock(const PullOptions& options) : seam_(options.sleep) {}

  Steady::time_point Now() const {
    std::lock_guard<std::mutex> lock(mu_);
    return Steady::now() + skew_;
  }

  bool uses_seam() const { return static_cast<bool>(seam_); }

  // Sleeps `d` through the seam (which must be set) and advances the clock
  // to `wake`, when that sleep ends. Not Now() + d: other threads' sleeps
  // may have moved the clock since `d` was measured, and a sleep that began
  // before their wake-ups must not end after them.
  void SeamSleep(milliseconds d, Steady::time_point wake) {
    seam_(d);
    std::lock_guard<std::mutex> lock(mu_);
    skew_ = std::max(skew_, wake - Steady::now());
  }

 private:
  const std::function<void(milliseconds)>& seam_;
  mutable std::mutex mu_;
  Steady::duration skew_{0};  // guarded by mu_
};

// Exponential backoff for one thread's run of kUnavailable failures.
class Backoff {
 public:
  Backoff(milliseconds initial, milliseconds max, uint64_t seed)
      : initial_(std::max(initial, milliseconds(1))),
        max_(std::max(max, initial_)),
        next_(initial_),
        rng_(seed) {}

  void Reset() { next_ = initial_; }

  // The next delay: uniform in [d/2, d] where d doubles from `initial` up to
  // `max`, so workers that failed together do not all retry together.
  milliseconds Next() {
    milliseconds d = next_;
    next_ = std::min(max_, next_ * 2);
    std::uniform_int_distribution<int64_t> pick(d.count() / 2, d.count());
    return milliseconds(std::max<int64_t>(1, pick(rng_)));
  }

 private:
  const milliseconds initial_;
  const milliseconds max_;
  milliseconds next_;
  std::mt19937_64 rng_;
};

// Runs one PullSnapshot call. Threading: Run() is called once, on the
// calling thread, which fetches the manifest, starts the workers, reports
// progress and joins them; workers share the state guarded by mu_ and the
// atomics below.
class Puller {
 public:
  Puller(ChunkSource& source, const std::string& region_id, const std::string& snapshot_id, ChunkStore& dest,
         const PullOptions& options)
      : source_(source),
        region_id_(region_id),
        snapshot_id_(snapshot_id),
        dest_(dest),
        batch_(dest.NewWriteBatch()),
        options_(options),
        clock_(options),
        what_("pull of snapshot " + snapshot_id + " from region " + region_id),
        store_slots_(std::clamp<std::ptrdiff_t>(options.max_concurrent_stores, 1, kMaxStoreSlots)),
        own_limit_(options.rate_limit_bytes_per_second) {}

  Result<PullResult> Run();

 private:
  // Fetches to keep in flight on this source's link (PullOptions).
  unsigned InFlight();
  Result<Manifest> FetchManifest();
  void PlanChunks(const Manifest& m);
  // The object digests of `m` kept where this store holds the object they
  // name, dropped elsewhere: the manifest this store may vouch for.
  void KeepHeldDigests(Manifest& m) const;
  void Worker(uint64_t seed);
  Status PullChunk(WantedChunk& c, Backoff& backoff);
  // Room in options_.budget (if any) for chunk `c`'s object, waited for
  // until the pull stops.
  Result<ChunkBudget::Reservation> ReserveBuffer(const WantedChunk& c);
  // Stores chunk `c`'s received object in one of the store turns (the
  // budget's, else this pull's): PutStoredWithDigest when the authenticated
  // manifest gave its object digest, else PutStored (decode and hash).
  Status Store(const WantedChunk& c, std::span<const uint8_t> object, bool* newly_stored);
  std::string ChunkWhat(const WantedChunk& c) const;

  // Called after a kUnavailable `error`: fails with kUnavailable once
  // retry_for has passed since the last success, else sleeps the next
  // backoff delay. kCancelled if cancelled meanwhile.
  Status WaitToRetry(const Status& error, Backoff& backoff, const std::string& what);
  // Books a fetch of about `expected` wire bytes with the rate limits and
  // waits until they let it start.
  Status WaitForRate(uint64_t expected);
  // Sleeps `d` unless the pull stops first; kCancelled on cancellation, an
  // error (never returned to the caller: the first error is) if another
  // thread failed.
  Status Sleep(milliseconds d) { return Sleep(d, clock_.Now() + d); }
  // The same for a sleep of `d` measured earlier, which ends when the pull's
  // clock reads `wake`.
  Status Sleep(milliseconds d, Steady::time_point wake);
  Status StopStatus() const;

  void RecordSuccess() {
    last_success_ns_.store(clock_.Now().time_since_epoch().count());
    if (outage_logged_.load(std::memory_order_relaxed) && outage_logged_.exchange(false))
      spdlog::info("{}: region {} answers again", what_, LogSafe(region_id_));
  }
  // Records what a fetch booked for `expected` bytes really received.
  void RecordWire(uint64_t expected, uint64_t wire_bytes);
  void MarkDone(const WantedChunk& c, bool fetched);
  void Fail(Status st);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }

  PullProgress SnapshotProgress();
  void ReportProgress();

  ChunkSource& source_;
  const std::string& region_id_;
  const std::string& snapshot_id_;
  ChunkStore& dest_;
  // The chunks stored by this pull, made durable in commits of many
  // (kCommitChunks) by the calling thread while the workers go on.
  std::unique_ptr<ChunkWriteBatch> batch_;
  const PullOptions& options_;
  PullClock clock_;
  const std::string what_;

  std::vector<WantedChunk> wanted_;  // written before the workers start
  std::unordered_map<ChunkId, size_t, ChunkIdHash> wanted_index_;  // id -> wanted_ position
  // The manifest was given by the caller, who got it over an authenticated
  // channel (PullOptions::manifest): its object digests verify chunks. A
  // fetched manifest's are ignored: its response is not authenticated.
  bool trust_object_digests_ = false;
  std::atomic<size_t> next_chunk_{0};
  std::atomic<bool> stop_{false};
  std::atomic<Steady::rep> last_success_ns_{0};
  // The source stopped answering and the log said so (once per outage).
  std::atomic<bool> outage_logged_{false};

  std::mutex pin_mu_;  // serializes options_.pin
  static constexpr std::ptrdiff_t kMaxStoreSlots = 1024;
  std::counting_semaphore<kMaxStoreSlots> store_slots_;  // options_.max_concurrent_stores

  std::mutex mu_;
  std::condition_variable cv_;  // workers finishing, stop_ being set
  unsigned running_ = 0;        // guarded by mu_
  Status error_;                // guarded by mu_: the first failure
  PullProgress progress_;       // guarded by mu_ (bytes_per_second aside)
  // This pull's own cap (rate_limit_bytes_per_second; 0 = none).
  LinkLimiter own_limit_;
  // (time, wire_bytes) samples for bytes_per_second; calling thread only.
  std::deque<std::pair<Steady::time_point, uint64_t>> rate_samples_;
};

Result<PullResult> Puller::Run() {
  if (IsCancelled(options_.cancel)) return Cancelled(what_ + " cancelled before it started");
  RecordSuccess();  // the retry_for window starts now
  Manifest manifest;
  if (options_.manifest != nullptr) {
    RETURN_IF_ERROR(options_.manifest->Validate().WithContext(what_ + ": the manifest given"));
    manifest = *options_.manifest;
    trust_object_digests_ = true;
  } else {
    // The workers' connections get ready while the manifest comes: one
    // round trip for all of them instead of one each as they start.
    const unsigned spare = InFlight() - 1;
    std::thread warm;
    if (spare > 0) warm = std::thread([this, spare] { source_.Warm(region_id_, spare); });
    Result<Manifest> fetched = FetchManifest();
    if (warm.joinable()) warm.join();
    ASSIGN_OR_RETURN(manifest, std::move(fetched));
  }
  if (options_.max_logical_size != 0 && manifest.logical_size > options_.max_logical_size) {
    return InvalidArgument("InvalidParameter", what_ + ": a disk of " +
                                                   std::to_string(manifest.logical_size) +
                                                   " bytes exceeds the maximum of " +
                                                   std::to_string(options_.max_logical_size) + " bytes");
  }
  PlanChunks(manifest);
  rate_samples_.emplace_back(clock_.Now(), 0);

  // Asked after the manifest, whose fetch may be the first round trip seen.
  const unsigned workers = static_cast<unsigned>(std::min<size_t>(InFlight(), wanted_.size()));
  std::vector<std::thread> threads;
  threads.reserve(workers);
  std::random_device entropy;
  for (unsigned i = 0; i < workers; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++running_;
    }
    try {
      threads.emplace_back([this, seed = (uint64_t{entropy()} << 32) ^ entropy()] { Worker(seed); });
    } catch (const std::system_error& e) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        --running_;
      }
      Fail(Internal(what_ + ": cannot start worker thread: " + e.what()));
      break;
    }
  }

  {
    std::unique_lock<std::mutex> lock(mu_);
    Steady::time_point next_report = Steady::now() + kProgressInterval;
    auto commit_due = [this] { return batch_->pending() >= kCommitChunks; };
    while (running_ > 0) {
      cv_.wait_until(lock, next_report, [&] { return running_ == 0 || commit_due(); });
      if (running_ == 0) continue;
      const bool report = Steady::now() >= next_report;
      lock.unlock();
      // The chunks stored so far are made durable as the pull goes, so the
      // commit and sync before the manifest have only the last few left.
      if (Status committed = batch_->Commit(); !committed.ok()) {
        Fail(committed.WithContext(what_ + ": commit of the chunks stored"));
      }
      if (report) {
        ReportProgress();
        // One directory sync each, batched. A failure is met again below.
        (void)dest_.Sync();
      }
      lock.lock();
      if (report) next_report = Steady::now() + kProgressInterval;
    }
  }
  for (std::thread& t : threads) t.join();

  Status st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    st = error_;
  }
  if (st.ok() && IsCancelled(options_.cancel)) st = Cancelled(what_ + " cancelled");
  // The chunks stored are kept even when the pull failed or was stopped:
  // each was verified, and a pull run again resumes from them.
  Status committed = batch_->Commit();
  if (st.ok()) st = committed.WithContext(what_ + ": commit of the chunks stored");
  if (st.ok()) {
    // The caller commits the manifest next: every chunk must survive a crash
    // first.
    st = dest_.Sync();
    if (!st.ok()) st = st.WithContext(what_ + ": sync of the destination store");
  }
  PullProgress final_progress = SnapshotProgress();
  if (options_.progress) options_.progress(final_progress);
  if (!st.ok()) return st;
  KeepHeldDigests(manifest);
  return PullResult{std::move(manifest), final_progress};
}

unsigned Puller::InFlight() {
  const unsigned base = std::max(1u, options_.in_flight);
  if (options_.in_flight_long_link <= base) return base;
  const std::chrono::microseconds rtt = source_.RoundTrip(region_id_);
  return rtt >= options_.long_round_trip ? options_.in_flight_long_link : base;
}

Result<Manifest> Puller::FetchManifest() {
  Backoff backoff(options_.initial_backoff, options_.max_backoff, std::random_device{}());
  const std::string what = what_ + ": manifest";
  for (;;) {
    Result<Manifest> m = source_.FetchManifest(region_id_, snapshot_id_);
    if (m.ok()) {
      RecordSuccess();
      Status valid = m->Validate();
      if (!valid.ok()) return valid.WithContext(what);
      return m;
    }
    if (m.status().code() != Code::kUnavailable) return m.status().WithContext(what);
    RETURN_IF_ERROR(WaitToRetry(m.status(), backoff, what));
  }
}

void Puller::PlanChunks(const Manifest& m) {
  m.ForEachData([&](uint64_t i, const ChunkEntry& e) {
    ++progress_.chunks_total;
    progress_.bytes_total += e.length;
    auto [it, inserted] = wanted_index_.try_emplace(e.id, wanted_.size());
    if (inserted) {
      wanted_.push_back(WantedChunk{e.id, i, e.length, 0, 0});
      if (trust_object_digests_) wanted_.back().object_digest = e.object_digest;
    }
    WantedChunk& c = wanted_[it->second];
    ++c.entries;
    c.bytes += e.length;
  });
}

void Puller::KeepHeldDigests(Manifest& m) const {
  for (ChunkEntry& e : m.entries) {
    if (e.zero || !e.object_digest) continue;
    auto it = wanted_index_.find(e.id);
    const bool held = it != wanted_index_.end() && wanted_[it->second].holds_digested_object &&
                      wanted_[it->second].object_digest == e.object_digest;
    if (!held) e.object_digest.reset();
  }
}

void Puller::Worker(uint64_t seed) {
  Backoff backoff(options_.initial_backoff, options_.max_backoff, seed);
  for (;;) {
    if (stopping()) break;
    size_t k = next_chunk_.fetch_add(1);
    if (k >= wanted_.size()) break;
    if (IsCancelled(options_.cancel)) {
      Fail(Cancelled(what_ + " cancelled before " + ChunkWhat(wanted_[k])));
      break;
    }
    // A worker thread must not end the process: a throw fails the pull.
    Status st = CatchAll("copy", [&] { return PullChunk(wanted_[k], backoff); });
    if (!st.ok()) {
      Fail(std::move(st));
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  --running_;
  cv_.notify_all();
}

Status Puller::PullChunk(WantedChunk& c, Backoff& backoff) {
  const std::string what = what_ + ": " + ChunkWhat(c);
  // Pinned before the Has check, so garbage collection cannot delete a chunk
  // between our finding it and the caller committing the manifest.
  if (options_.pin) {
    std::lock_guard<std::mutex> lock(pin_mu_);
    RETURN_IF_ERROR(options_.pin(c.id).WithContext(what));
  }
  Result<bool> has = dest_.Has(c.id);
  if (!has.ok()) return has.status().WithContext(what + ": local lookup");
  if (*has) {
    MarkDone(c, /*fetched=*/false);
    return Status::Ok();
  }

  unsigned corrupt = 0;
  for (;;) {
    Status go = WaitForRate(c.length);
    if (go.ok() && IsCancelled(options_.cancel)) go = Cancelled(what_ + " cancelled before " + ChunkWhat(c));
    if (go.ok() && stopping()) go = StopStatus();
    Result<ChunkBudget::Reservation> reserved =
        go.ok() ? ReserveBuffer(c) : Result<ChunkBudget::Reservation>(go);
    if (!reserved.ok()) {
      RecordWire(c.length, 0);  // the booked bytes never came
      return reserved.status();
    }
    ChunkBudget::Reservation buffer = std::move(*reserved);
    uint64_t wire = 0;
    // The object is stored as it came (no decompress + recompress): the
    // source did not verify it, PutStored or PutStoredWithDigest does.
    Result<std::vector<uint8_t>> object = source_.FetchChunkObject(region_id_, c.id, c.length, &wire);
    RecordWire(c.length, wire);
    // What is held from here on is what came (compressed, often less).
    if (object.ok()) buffer.ShrinkTo(object->capacity());
    Status st = object.status();
    if (st.ok()) {
      RecordSuccess();
      backoff.Reset();
      Result<ChunkHeader> header = CheckChunkObject(*object);
      if (!header.ok()) {
        st = header.status();
      } else if (header->plaintext_length != c.length) {
        st = DataLoss("received a chunk of " + std::to_string(header->plaintext_length) +
                      " bytes, manifest says " + std::to_string(c.length));
      } else {
        // A corrupt object fails verification with kDataLoss and counts as
        // corruption like any other. With the authenticated manifest's
        // object digest, the object is checked as it is, never decoded.
        bool newly_stored = false;
        st = Store(c, *object, &newly_stored);
        if (st.ok()) {
          ChunkReceiveBuffers().Give(std::move(*object));
          // Stored before us (another copy or an import): maybe other bytes.
          c.holds_digested_object = c.object_digest.has_value() && newly_stored;
          MarkDone(c, /*fetched=*/true);
          return Status::Ok();
        }
        if (st.code() != Code::kDataLoss) return st.WithContext(what + ": local store");
      }
    }
    // Nothing of this attempt is held while waiting to retry.
    if (object.ok()) ChunkReceiveBuffers().Give(std::move(*object));
    object = st;
    buffer.Reset();
    switch (st.code()) {
      case Code::kUnavailable:
        RETURN_IF_ERROR(WaitToRetry(st, backoff, what));
        break;
      case Code::kDataLoss:
        if (++corrupt > options_.corrupt_retries) {
          return DataLoss(what + ": failed verification " + std::to_string(corrupt) + " times (" +
                          std::to_string(options_.corrupt_retries) +
                          " retries allowed); last: " + st.message());
        }
        break;
      default:
        return st.WithContext(what);
    }
  }
}

Result<ChunkBudget::Reservation> Puller::ReserveBuffer(const WantedChunk& c) {
  if (options_.budget == nullptr) return ChunkBudget::Reservation();
  // A chunk object is its prefix and a payload no larger than the plaintext
  // (a compressed one is kept only when smaller; chunk_format.md), received
  // into a buffer that may be a pooled one, larger (ChunkReceiveBuffers).
  Result<ChunkBudget::Reservation> held =
      options_.budget->Reserve(ChunkReceiveBuffers().CapacityFor(MaxChunkObjectSize(c.length)),
                               [this] { return stopping() || IsCancelled(options_.cancel); });
  if (held.ok()) return held;
  if (IsCancelled(options_.cancel)) return Cancelled(what_ + " cancelled before " + ChunkWhat(c));
  return StopStatus();
}

Status Puller::Store(const WantedChunk& c, std::span<const uint8_t> object, bool* newly_stored) {
  auto put = [&] {
    return c.object_digest ? batch_->PutStoredWithDigest(c.id, object, *c.object_digest, newly_stored)
                           : batch_->PutStored(c.id, object, newly_stored);
  };
  Status st;
  if (options_.budget != nullptr) {
    ChunkBudget::StoreTurn turn(*options_.budget);
    st = put();
  } else {
    store_slots_.acquire();
    st = put();
    store_slots_.release();
  }
  if (st.ok() && batch_->pending() >= kCommitChunks) {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  return st;
}

std::string Puller::ChunkWhat(const WantedChunk& c) const {
  return "chunk " + ToHex(c.id) + " (entry " + std::to_string(c.first_entry) + ")";
}

Status Puller::WaitToRetry(const Status& error, Backoff& backoff, const std::string& what) {
  const Steady::time_point last_success{Steady::duration(last_success_ns_.load())};
  const Steady::duration since = clock_.Now() - last_success;
  if (since >= options_.retry_for) {
    return Unavailable(what + ": source unavailable for " + std::to_string(Seconds(since)) +
                       " s since the last successful read (retrying for " +
                       std::to_string(Seconds(options_.retry_for)) + " s); last error: " + error.ToString());
  }
  // Never sleep past the end of the window: the last attempt comes at its end.
  auto left = std::chrono::ceil<milliseconds>(options_.retry_for - since);
  if (!outage_logged_.exchange(true)) {
    spdlog::warn(
        "{}: region {} stopped answering ({}); retrying with backoff from {} ms to {} ms, giving up "
        "after {:.0f} s without an answer ({:.0f} s left)",
        what_, LogSafe(region_id_), LogSafe(error.ToString()), options_.initial_backoff.count(),
        options_.max_backoff.count(), Seconds(options_.retry_for), Seconds(options_.retry_for - since));
  }
  return Sleep(std::min(backoff.Next(), left));
}

Status Puller::WaitForRate(uint64_t expected) {
  if (options_.rate_limit_bytes_per_second == 0 && options_.link_limiter == nullptr) return Status::Ok();
  const Steady::time_point now = clock_.Now();
  // Both caps book the fetch; it starts when the later one lets it. (The
  // earlier one's slot then goes unused: never faster than either cap.)
  Steady::time_point start = own_limit_.Reserve(expected, now);
  if (options_.link_limiter != nullptr)
    start = std::max(start, options_.link_limiter->Reserve(expected, now));
  if (start <= now) return Status::Ok();
  return Sleep(std::chrono::ceil<milliseconds>(start - now), start);
}

Status Puller::Sleep(milliseconds d, Steady::time_point wake) {
  if (clock_.uses_seam()) {
    clock_.SeamSleep(d, wake);
  } else {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping() && !IsCancelled(options_.cancel)) {
      Steady::time_point now = Steady::now();
      if (now >= wake) break;
      cv_.wait_until(lock, std::min(wake, now + kCancelPollInterval), [this] { return stopping(); });
    }
  }
  if (IsCancelled(options_.cancel)) return Cancelled(what_ + " cancelled while waiting to retry");
  if (stopping()) return StopStatus();
  return Status::Ok();
}

Status Puller::StopStatus() const { return Aborted("", what_ + ": stopped after another failure"); }

void Puller::RecordWire(uint64_t expected, uint64_t wire_bytes) {
  own_limit_.Settle(expected, wire_bytes);
  if (options_.link_limiter != nullptr) options_.link_limiter->Settle(expected, wire_bytes);
  std::lock_guard<std::mutex> lock(mu_);
  progress_.wire_bytes += wire_bytes;
}

void Puller::MarkDone(const WantedChunk& c, bool fetched) {
  std::lock_guard<std::mutex> lock(mu_);
  progress_.chunks_done += c.entries;
  progress_.bytes_done += c.bytes;
  if (fetched) ++progress_.chunks_fetched;
}

void Puller::Fail(Status st) {
  std::lock_guard<std::mutex> lock(mu_);
  if (error_.ok()) error_ = std::move(st);
  stop_.store(true);
  cv_.notify_all();
}

PullProgress Puller::SnapshotProgress() {
  PullProgress p;
  {
    std::lock_guard<std::mutex> lock(mu_);
    p = progress_;
  }
  const Steady::time_point now = clock_.Now();
  rate_samples_.emplace_back(now, p.wire_bytes);
  while (rate_samples_.size() > 2 && now - rate_samples_[1].first >= kRateWindow) rate_samples_.pop_front();
  const auto& [then, then_bytes] = rate_samples_.front();
  const double span = Seconds(now - then);
  p.bytes_per_second = span > 0 ? static_cast<double>(p.wire_bytes - then_bytes) / span : 0;
  return p;
}

void Puller::ReportProgress() {
  if (!options_.progress) return;
  options_.progress(SnapshotProgress());
}

}  // namespace

Result<PullResult> PullSnapshot(ChunkSource& source, const std::string& source_region_id,
                                const std::string& snapshot_id, ChunkStore& dest,
                                const PullOptions& options) {
  Puller puller(source, source_region_id, snapshot_id, dest, options);
  return puller.Run();
}

}  // namespace ferry
