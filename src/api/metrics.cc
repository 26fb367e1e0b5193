#include "api/metrics.h"

#include <cstdio>

namespace ferry {
namespace {

std::string FormatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

}  // namespace

std::string PrometheusLabel(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Metrics::Histogram::Observe(double seconds) {
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++buckets[i];
      break;
    }
  }
  ++count;
  sum += seconds;
}

void Metrics::Histogram::Render(const std::string& name, const std::string& labels, std::string& out) const {
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cumulative += buckets[i];
    out += name + "_bucket{" + labels + ",le=\"" + FormatDouble(kLatencyBuckets[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(count) + "\n";
  out += name + "_sum{" + labels + "} " + FormatDouble(sum) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(count) + "\n";
}

void Metrics::RecordRequest(const std::string& action, const std::string& code, double latency_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{action, code}];
  latency_[action].Observe(latency_seconds);
}

void Metrics::RecordOssRequest(const std::string& operation, const std::string& code, double latency_seconds,
                               uint64_t bytes_received, uint64_t bytes_sent) {
  std::lock_guard<std::mutex> lock(mu_);
  ++oss_requests_[{operation, code}];
  oss_latency_[operation].Observe(latency_seconds);
  oss_bytes_received_ += bytes_received;
  oss_bytes_sent_ += bytes_sent;
}

void Metrics::AddRegion(const std::string& region_id, const RegionMetrics* metrics) {
  std::lock_guard<std::mutex> lock(mu_);
  regions_.emplace_back(region_id, metrics);
}

void Metrics::RenderRequests(const std::string& prefix, const std::string& what, const std::string& label,
                             const std::map<std::pair<std::string, std::string>, uint64_t>& counts,
                             const std::map<std::string, Histogram>& latency, std::string& out) {
  out += "# HELP " + prefix + "_requests_total " + what + " by " + label + " and result code.\n";
  out += "# TYPE " + prefix + "_requests_total counter\n";
  for (const auto& [key, count] : counts) {
    out += prefix + "_requests_total{" + label + "=\"" + PrometheusLabel(key.first) + "\",code=\"" +
           PrometheusLabel(key.second) + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP " + prefix + "_request_duration_seconds " + what + " latency by " + label + ".\n";
  out += "# TYPE " + prefix + "_request_duration_seconds histogram\n";
  for (const auto& [name, h] : latency) {
    h.Render(prefix + "_request_duration_seconds", label + "=\"" + PrometheusLabel(name) + "\"", out);
  }
}

std::string Metrics::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  RenderRequests("ferry_api", "API requests", "action", requests_, latency_, out);
  RenderRequests("ferry_oss", "OSS endpoint requests", "operation", oss_requests_, oss_latency_, out);
  out += "# HELP ferry_oss_received_bytes_total Request body bytes the OSS endpoint received.\n";
  out += "# TYPE ferry_oss_received_bytes_total counter\n";
  out += "ferry_oss_received_bytes_total " + std::to_string(oss_bytes_received_) + "\n";
  out += "# HELP ferry_oss_sent_bytes_total Object bytes the OSS endpoint sent (GetObject bodies).\n";
  out += "# TYPE ferry_oss_sent_bytes_total counter\n";
  out += "ferry_oss_sent_bytes_total " + std::to_string(oss_bytes_sent_) + "\n";

  struct RegionCounter {
    const char* name;
    const char* help;
    std::atomic<uint64_t> RegionMetrics::*field;
  };
  static constexpr RegionCounter kRegionCounters[] = {
      {"ferry_region_bytes_imported_total", "Bytes read from imported disk images.",
       &RegionMetrics::bytes_imported},
      {"ferry_region_bytes_exported_total", "Bytes written to exported disk images.",
       &RegionMetrics::bytes_exported},
      {"ferry_region_chunks_stored_total", "New chunks written to the chunk store.",
       &RegionMetrics::chunks_stored},
      {"ferry_region_chunks_deduped_total", "Chunks already present in the chunk store.",
       &RegionMetrics::chunks_deduped},
      {"ferry_region_tasks_finished_total", "Tasks that finished successfully.",
       &RegionMetrics::tasks_finished},
      {"ferry_region_tasks_failed_total", "Tasks that failed.", &RegionMetrics::tasks_failed},
      {"ferry_region_copy_chunks_fetched_total", "Chunks pulled from another region by completed copies.",
       &RegionMetrics::copy_chunks_fetched},
      {"ferry_region_copy_bytes_received_total", "Wire bytes of the chunks pulled by completed copies.",
       &RegionMetrics::copy_bytes_received},
  };
  if (!regions_.empty()) {
    for (const RegionCounter& counter : kRegionCounters) {
      out += std::string("# HELP ") + counter.name + " " + counter.help + "\n";
      out += std::string("# TYPE ") + counter.name + " counter\n";
      for (const auto& [region_id, m] : regions_) {
        out += std::string(counter.name) + "{region=\"" + PrometheusLabel(region_id) + "\"} " +
               std::to_string((m->*counter.field).load(std::memory_order_relaxed)) + "\n";
      }
    }
  }
  return out;
}

}  // namespace ferry
