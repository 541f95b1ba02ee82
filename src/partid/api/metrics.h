// api: the node's Prometheus metrics, rendered as text for GET /metrics.
// Request counts by route and status, latency histograms by route, and
// whatever gauges the node adds at render time (per-partition sizes, pipeline
// state). Threading: loop only (no locks: every request runs on the loop).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

namespace partid::api {

class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    2.5};
  void record(const std::string& route, int status, double seconds);
  void count(const std::string& name, uint64_t n = 1) { counters_[name] += n; }
  // A gauge kept between renders (unlike gauge(), sampled at render time).
  void set_gauge(const std::string& name, double value) { gauges_[name] = value; }
  // Appends one gauge sample; `labels` is a ready Prometheus label set or "".
  void gauge(std::string& out, const std::string& name, const std::string& labels,
             double value) const;
  std::string render_requests() const;

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::map<std::string, uint64_t> counters_;
  std::map<std::string, double> gauges_;
};

}  // namespace partid::api
