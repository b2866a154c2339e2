#pragma once

// The simulated back-office day's workload, as pure logic (no I/O): items
// with realistic attributes generated from catalog.yaml, an arrival curve
// over the day, worker shifts and handle times. The simulator (main.cc)
// drives the running stack with it.

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "common/catalog/catalog.h"
#include "docket/v1/work.pb.h"

namespace docket::sim {

struct WorkloadOptions {
  int items = 400;
  double missing_field_share = 0.03;  // submissions intake must reject
  double pii_share = 0.08;            // free text with an e-mail or card number
  double denied_vendor_share = 0.03;  // vendors on the deny list
  std::vector<std::string> denied_vendors;  // from deny-lists/sanctioned-vendors.txt
  // A partner's bulk upload: `surge_items` of the day's items (at most a
  // third of them), all of `surge_kind`, arrive at once at `surge_at` (share
  // of the day). They fall due the same afternoon and are more than their
  // clerk can do on top of the day's work: the day's few SLA breaches.
  int surge_items = 40;
  std::string surge_kind = "shipping_documents";
  double surge_at = 0.3;
  unsigned seed = 7;
};

struct PlannedItem {
  double arrival = 0;  // share of the day, 0..1
  docket::v1::WorkSubmission submission;
  bool invalid = false;  // a required field was left out on purpose
};

// The day's items in arrival order. Kinds follow a back-office mix (data
// entry and invoices most, KYC and onboarding least); arrivals follow a
// two-peak curve (morning and early afternoon), plus the bulk upload.
std::vector<PlannedItem> PlanDay(const catalog::Catalog& catalog, const WorkloadOptions& options);

// Arrival time (share of the day) of quantile u in [0, 1] of the curve.
double ArrivalCurveQuantile(double u);

struct SimWorker {
  std::string name;
  std::string key;  // API key (demo keys of deploy/config/api-keys.yaml)
  bool supervisor = false;
  double shift_start = 0;  // share of the day
  double shift_end = 1;
};

// The demo roster: alice, dana, erin, bob (supervisor), sam (supervisor).
std::vector<SimWorker> DemoRoster();

// Handle time of one item of `kind`, in simulated seconds (log-normal around
// a per-kind median).
double HandleSeconds(const std::string& kind, std::mt19937& rng);

// Reads non-comment, non-empty lines of a list file.
std::vector<std::string> ReadList(const std::string& path);

}  // namespace docket::sim
