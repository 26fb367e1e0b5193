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

void Metrics::RecordRequest(const std::string& action, const std::string& code, double latency_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{action, code}];
  Histogram& h = latency_[action];
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (latency_seconds <= kLatencyBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum += latency_seconds;
}

void Metrics::AddRegion(const std::string& region_id, const RegionMetrics* metrics) {
  std::lock_guard<std::mutex> lock(mu_);
  regions_.emplace_back(region_id, metrics);
}

std::string Metrics::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out += "# HELP ferry_api_requests_total API requests by action and result code.\n";
  out += "# TYPE ferry_api_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out += "ferry_api_requests_total{action=\"" + PrometheusLabel(key.first) + "\",code=\"" +
           PrometheusLabel(key.second) + "\"} " + std::to_string(count) + "\n";
  }
  out += "# HELP ferry_api_request_duration_seconds API request latency by action.\n";
  out += "# TYPE ferry_api_request_duration_seconds histogram\n";
  for (const auto& [action, h] : latency_) {
    std::string label = "action=\"" + PrometheusLabel(action) + "\"";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      cumulative += h.buckets[i];
      out += "ferry_api_request_duration_seconds_bucket{" + label + ",le=\"" +
             FormatDouble(kLatencyBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += "ferry_api_request_duration_seconds_bucket{" + label + ",le=\"+Inf\"} " + std::to_string(h.count) +
           "\n";
    out += "ferry_api_request_duration_seconds_sum{" + label + "} " + FormatDouble(h.sum) + "\n";
    out += "ferry_api_request_duration_seconds_count{" + label + "} " + std::to_string(h.count) + "\n";
  }

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
