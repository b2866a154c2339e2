#include "tools/loadgen/src/progress_series.h"

namespace docket::loadgen {

std::optional<double> ProgressSeries::FirstReached(double value) const {
  for (const auto& s : samples_) {
    if (s.value >= value) return s.seconds;
  }
  return std::nullopt;
}

std::optional<double> ProgressSeries::Crossed(double value) const {
  for (std::size_t i = 0; i < samples_.size(); ++i) {
    if (samples_[i].value < value) continue;
    if (i == 0) return samples_[0].seconds;
    const Sample& a = samples_[i - 1];
    const Sample& b = samples_[i];
    if (b.value <= a.value) return b.seconds;
    return a.seconds + (b.seconds - a.seconds) * (value - a.value) / (b.value - a.value);
  }
  return std::nullopt;
}

std::optional<double> ProgressSeries::RateBetween(double lo, double hi) const {
  const auto t_lo = Crossed(lo);
  const auto t_hi = Crossed(hi);
  if (!t_lo || !t_hi || *t_hi <= *t_lo || hi <= lo) return std::nullopt;
  return (hi - lo) / (*t_hi - *t_lo);
}

}  // namespace docket::loadgen
