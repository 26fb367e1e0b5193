// Metrics: request counters and latency histograms for the API, plus the
// regions' data-plane counters, rendered in the Prometheus text exposition
// format (version 0.0.4).
//
//   ferry_api_requests_total{action,code}            counter
//   ferry_api_request_duration_seconds{action}       histogram
//   ferry_region_<counter>_total{region}             counters from RegionMetrics
//
// Threading: thread-safe; request state is guarded by mu_. Region counters
// are atomics owned by the regions, which must outlive this object.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "region/region.h"

namespace ferry {

class Metrics {
 public:
  // Upper bounds of the latency buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 11> kLatencyBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                             0.5,   1.0,  2.5,   5.0,  10.0};

  // `code` is the ECS error code, or "Success".
  void RecordRequest(const std::string& action, const std::string& code, double latency_seconds);
  // One request on the OSS listener (api/oss_endpoint.h): `operation` as
  // OSS names it ("unknown" when the request could not be identified),
  // `code` the OSS error code or "Success", and the bytes of the request's
  // and the response's bodies.
  void RecordOssRequest(const std::string& operation, const std::string& code, double latency_seconds,
                        uint64_t bytes_received, uint64_t bytes_sent);
  // Appends this region's counters to every rendering.
  void AddRegion(const std::string& region_id, const RegionMetrics* metrics);

  std::string RenderPrometheus() const;

 private:
  struct Histogram {
    std::array<uint64_t, kLatencyBuckets.size()> buckets{};  // non-cumulative
    uint64_t count = 0;
    double sum = 0;

    void Observe(double seconds);
    // The _bucket, _sum and _count lines of `name` for one label set.
    void Render(const std::string& name, const std::string& labels, std::string& out) const;
  };

  // The _requests_total counter and _request_duration_seconds histogram
  // families of one listener's requests.
  static void RenderRequests(const std::string& prefix, const std::string& what, const std::string& label,
                             const std::map<std::pair<std::string, std::string>, uint64_t>& counts,
                             const std::map<std::string, Histogram>& latency, std::string& out);

  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_;   // guarded by mu_
  std::map<std::string, Histogram> latency_;                           // guarded by mu_
  std::vector<std::pair<std::string, const RegionMetrics*>> regions_;  // guarded by mu_
  std::map<std::pair<std::string, std::string>, uint64_t> oss_requests_;  // guarded by mu_
  std::map<std::string, Histogram> oss_latency_;                          // guarded by mu_
  uint64_t oss_bytes_received_ = 0;                                       // guarded by mu_
  uint64_t oss_bytes_sent_ = 0;                                           // guarded by mu_
};

// Escapes a Prometheus label value (backslash, double quote, newline).
std::string PrometheusLabel(const std::string& value);

}  // namespace ferry
