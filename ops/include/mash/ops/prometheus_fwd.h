// Forward declarations of the prometheus-cpp core types that the daemons' metrics headers and the
// ops listener name by reference, so that those headers need not include prometheus-cpp. Sources
// that register or update metrics include <prometheus/...> themselves; mash::ops links
// prometheus-cpp::core publicly.
#pragma once

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus
