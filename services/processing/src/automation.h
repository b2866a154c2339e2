#pragma once

// Automation rules: a kind's rules complete routine items without a person
// (still subject to compliance). The first rule, in catalog order, whose
// conditions all hold wins.
//
// A condition compares an item attribute with the condition's value(s) by the
// attribute's declared type:
//   money   the amount in major units (minor_units / 100), compared exactly
//           with the value read as a decimal ("500", "49.99"). The value may
//           name a currency ("500 EUR"); then an amount in another currency
//           never matches. eq ne lt le gt ge in.
//   number  numerically. eq ne lt le gt ge in.
//   date    by calendar date; values are YYYY-MM-DD. eq ne lt le gt ge in.
//   bool    against "true" / "false". eq ne in.
//   enum    by member name (sent as enum_value or string_value). eq ne in.
//   string  by exact string. eq ne in.
// Conditions fail closed: a missing attribute, a value of another type than
// declared, a condition value that does not parse for the type, or an
// ordering op on bool/enum/string never match (also for ne). A rule without
// conditions never matches (the catalog refuses one anyway).

#include <string>

#include "common/catalog/catalog.h"
#include "docket/v1/work.pb.h"
#include "google/protobuf/map.h"

namespace docket::processing {

using AttributeMap = google::protobuf::Map<std::string, docket::v1::AttributeValue>;

// Whether `condition` holds for `value` (nullptr: the item lacks the
// attribute) of an attribute declared as `spec`.
bool ConditionHolds(const catalog::AttributeSpec& spec, const catalog::Condition& condition,
                    const docket::v1::AttributeValue* value);

// The first rule of `kind` whose conditions all hold for `attrs`, or nullptr.
// The pointer is into `kind`, valid as long as the catalog is.
const catalog::AutomationRule* MatchAutomation(const catalog::Kind& kind, const AttributeMap& attrs);

}  // namespace docket::processing
