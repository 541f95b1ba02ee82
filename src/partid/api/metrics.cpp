#include "partid/api/metrics.h"

#include <fmt/format.h>

namespace partid::api {

void Metrics::record(const std::string& route, int status, double seconds) {
  ++requests_[{route, status}];
  Histogram& h = latency_[route];
  ++h.count;
  h.sum += seconds;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
}

void Metrics::gauge(std::string& out, const std::string& name, const std::string& labels,
                    double value) const {
  out += fmt::format("{}{} {}\n", name, labels.empty() ? "" : "{" + labels + "}", value);
}

std::string Metrics::render_requests() const {
  std::string out;
  out += "# TYPE partid_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("partid_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first,
                       key.second, n);
  }
  out += "# TYPE partid_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out +=
          fmt::format("partid_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
                      route, kBuckets[i], h.buckets[i]);
    }
    out +=
        fmt::format("partid_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n",
                    route, h.count);
    out +=
        fmt::format("partid_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route, h.sum);
    out += fmt::format("partid_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", route,
                       h.count);
  }
  for (const auto& [name, n] : counters_) {
    out += fmt::format("# TYPE {} counter\n{} {}\n", name, name, n);
  }
  for (const auto& [name, value] : gauges_) {
    out += fmt::format("# TYPE {} gauge\n{} {}\n", name, name, value);
  }
  return out;
}

}  // namespace partid::api
