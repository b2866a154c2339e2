#include "tools/simulator/workload.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace docket::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Relative arrival intensity over the day: peaks mid-morning and early afternoon.
double Intensity(double t) {
  auto bump = [](double t, double mu, double sigma) {
    return std::exp(-(t - mu) * (t - mu) / (2 * sigma * sigma));
  };
  return 0.35 + bump(t, 0.25, 0.1) + 0.8 * bump(t, 0.62, 0.12);
}

const std::vector<std::pair<std::string, double>>& KindMix() {
  static const std::vector<std::pair<std::string, double>> mix = {
      {"data_entry", 30}, {"invoice_approval", 30}, {"expense_review", 20},
      {"shipping_documents", 10}, {"kyc_review", 5}, {"hr_onboarding", 5}};
  return mix;
}

const std::vector<std::string>& Vendors() {
  static const std::vector<std::string> v = {"V-100", "V-101", "V-205", "V-310", "V-412", "V-518"};
  return v;
}
const std::vector<std::string>& VendorNames() {
  static const std::vector<std::string> v = {"Muster GmbH",    "Acme Paper Ltd", "Nordlicht AG",
                                             "Blue Harbor BV", "Atelier Roux",   "Kestrel Logistics"};
  return v;
}

std::string FreeText(std::mt19937& rng, double pii_share, std::size_t max_length) {
  static const std::vector<std::string> clean = {
      "Please process before month end.", "Second reminder from the supplier.",
      "Scanned copy attached.", "Approved verbally by the team lead.", "Partial delivery."};
  std::uniform_real_distribution<double> u(0, 1);
  std::string text = clean[rng() % clean.size()];
  if (u(rng) < pii_share) {
    text += u(rng) < 0.5 ? " Contact: jane.doe@example.com" : " Paid by card 4111 1111 1111 1111";
  }
  return text.substr(0, max_length);
}

void Fill(const catalog::AttributeSpec& spec, docket::v1::AttributeValue& v, const std::string& kind,
          std::mt19937& rng, const WorkloadOptions& o, int serial) {
  std::uniform_real_distribution<double> u(0, 1);
  const std::string& n = spec.name;
  switch (spec.type) {
    case catalog::AttributeType::kString: {
      std::string s;
      if (n == "vendor_id") {
        s = (!o.denied_vendors.empty() && u(rng) < o.denied_vendor_share)
                ? o.denied_vendors[rng() % o.denied_vendors.size()]
                : Vendors()[rng() % Vendors().size()];
      } else if (n == "vendor_name") {
        s = VendorNames()[rng() % VendorNames().size()];
      } else if (absl::StrContains(n, "country")) {
        static const std::vector<std::string> countries = {"DE", "GB", "FR", "NL", "US", "CH"};
        s = countries[rng() % countries.size()];
      } else if (n == "iban") {
        s = "DE89370400440532013000";  // the standard valid example IBAN
      } else if (n == "carrier") {
        s = "Kestrel Logistics";
      } else if (n == "legal_name") {
        s = "Blue Harbor Trading BV";
      } else if (spec.pii) {
        s = FreeText(rng, o.pii_share, spec.max_length);
      } else {
        s = absl::StrCat(absl::AsciiStrToUpper(n.substr(0, 3)), "-", 10000 + serial);
      }
      v.set_string_value(s.substr(0, spec.max_length));
      break;
    }
    case catalog::AttributeType::kNumber: {
      double lo = spec.min.value_or(0), hi = spec.max.value_or(1000);
      double x;
      if (n == "pages") {
        x = u(rng) < 0.5 ? 1 : 1 + static_cast<int>(rng() % 6);
      } else if (n == "ocr_confidence") {
        x = std::round((0.9 + 0.1 * u(rng)) * 1000) / 1000;
      } else {
        x = std::round(lo + (hi - lo) * u(rng));
      }
      v.set_number_value(std::clamp(x, lo, hi));
      break;
    }
    case catalog::AttributeType::kMoney: {
      std::lognormal_distribution<double> amount(std::log(kind == "expense_review" ? 80.0 : 900.0), 1.1);
      double major = std::max(spec.min.value_or(0.01), std::round(amount(rng) * 100) / 100);
      if (spec.max) major = std::min(major, *spec.max);
      v.mutable_money_value()->set_minor_units(static_cast<std::int64_t>(std::llround(major * 100)));
      v.mutable_money_value()->set_currency(spec.currencies.empty() ? "EUR" : spec.currencies[0]);
      break;
    }
    case catalog::AttributeType::kDate: {
      auto* d = v.mutable_date_value();
      d->set_year(2026);
      d->set_month(11);
      d->set_day(1 + static_cast<int>(rng() % 28));
      break;
    }
    case catalog::AttributeType::kBool:
      v.set_bool_value(n == "hazardous" ? u(rng) < 0.05 : u(rng) < 0.8);
      break;
    case catalog::AttributeType::kEnum:
      v.set_enum_value(spec.values.empty() ? "" : spec.values[rng() % spec.values.size()]);
      break;
  }
}

}  // namespace

double ArrivalCurveQuantile(double q) {
  // Numeric inverse of the normalised cumulative intensity (fine grid).
  constexpr int kSteps = 2000;
  static const std::vector<double> cdf = [] {
    std::vector<double> c(kSteps + 1, 0);
    for (int i = 1; i <= kSteps; ++i) {
      c[i] = c[i - 1] + Intensity((i - 0.5) / kSteps);
    }
    for (double& x : c) x /= c.back();
    return c;
  }();
  q = std::clamp(q, 0.0, 1.0);
  const auto it = std::lower_bound(cdf.begin(), cdf.end(), q);
  const int i = static_cast<int>(it - cdf.begin());
  if (i == 0) return 0;
  const double lo = cdf[i - 1], hi = cdf[i];
  return (i - 1 + (hi > lo ? (q - lo) / (hi - lo) : 0)) / kSteps;
}

std::vector<PlannedItem> PlanDay(const catalog::Catalog& catalog, const WorkloadOptions& o) {
  std::mt19937 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> weights;
  for (const auto& [kind, w] : KindMix()) weights.push_back(catalog.FindKind(kind) ? w : 0);
  std::discrete_distribution<int> pick(weights.begin(), weights.end());
  std::vector<PlannedItem> out;
  const int surge = catalog.FindKind(o.surge_kind) ? std::clamp(o.surge_items, 0, o.items / 3) : 0;
  const int spread = o.items - surge;  // the items that follow the arrival curve
  for (int i = 0; i < o.items; ++i) {
    const bool in_surge = i >= spread;
    const std::string& kind_name = in_surge ? o.surge_kind : KindMix()[pick(rng)].first;
    const catalog::Kind* kind = catalog.FindKind(kind_name);
    if (!kind) continue;
    PlannedItem item;
    item.arrival = in_surge ? std::clamp(o.surge_at, 0.0, 1.0) : ArrivalCurveQuantile((i + u(rng)) / spread);
    auto& s = item.submission;
    s.set_tenant("acme");
    s.set_kind(kind_name);
    s.set_idempotency_key(absl::StrCat("sim-", o.seed, "-", i));
    s.set_external_ref(absl::StrCat("SIM-", i));
    s.mutable_requester()->set_type(docket::v1::Actor::TYPE_PERSON);
    s.mutable_requester()->set_id(absl::StrCat("requester-", rng() % 40));
    // Automatable items: make a share of them routine.
    const bool routine = u(rng) < 0.3;
    for (const auto& spec : kind->attributes) {
      if (!spec.required && u(rng) < 0.3) continue;
      Fill(spec, (*s.mutable_attributes())[spec.name], kind_name, rng, o, i);
    }
    auto& a = *s.mutable_attributes();
    if (routine && kind_name == "data_entry") {
      a["document_type"].set_enum_value("receipt");
      a["pages"].set_number_value(1);
      a["ocr_confidence"].set_number_value(0.99);
    } else if (routine && kind_name == "invoice_approval") {
      a["amount"].mutable_money_value()->set_minor_units(4900 + static_cast<int>(rng() % 40000));
      a["vendor_verified"].set_bool_value(true);
      a["category"].set_enum_value("goods");
    } else if (routine && kind_name == "expense_review") {
      a["category"].set_enum_value("meals");
      a["amount"].mutable_money_value()->set_minor_units(1200 + static_cast<int>(rng() % 3000));
      a["receipt_attached"].set_bool_value(true);
    }
    if (u(rng) < o.missing_field_share) {
      for (const auto& spec : kind->attributes) {
        if (spec.required) {
          a.erase(spec.name);
          item.invalid = true;
          break;
        }
      }
    }
    out.push_back(std::move(item));
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.arrival < y.arrival; });
  return out;
}

std::vector<SimWorker> DemoRoster() {
  return {
      {"alice", "dk_demo_alice_worker_LOCAL_STACK_ONLY", false, 0.0, 0.8},
      {"dana", "dk_demo_dana_worker_LOCAL_STACK_ONLY", false, 0.05, 0.9},
      {"erin", "dk_demo_erin_worker_LOCAL_STACK_ONLY", false, 0.2, 1.0},
      {"bob", "dk_demo_bob_supervisor_LOCAL_STACK_ONLY", true, 0.0, 0.85},
      {"sam", "dk_demo_sam_supervisor_LOCAL_STACK_ONLY", true, 0.15, 1.0},
  };
}

double HandleSeconds(const std::string& kind, std::mt19937& rng) {
  static const std::map<std::string, double> median_minutes = {
      {"data_entry", 4},  {"invoice_approval", 9}, {"expense_review", 6},
      {"shipping_documents", 8}, {"kyc_review", 25}, {"hr_onboarding", 30}};
  auto it = median_minutes.find(kind);
  std::lognormal_distribution<double> d(std::log((it == median_minutes.end() ? 10 : it->second) * 60), 0.5);
  return d(rng);
}

std::vector<std::string> ReadList(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = std::string(absl::StripAsciiWhitespace(line));
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

}  // namespace docket::sim
