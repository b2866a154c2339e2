#include "tools/loadgen/src/prom_text.h"

#include <cmath>
#include <cstdlib>
#include <map>

namespace docket::loadgen {
namespace {

// Parses `{a="x",b="y"}` starting at line[pos] == '{'; pos ends after '}'.
bool ParseLabels(std::string_view line, std::size_t& pos, std::map<std::string, std::string>& out) {
  ++pos;  // '{'
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == ',')) ++pos;
    if (pos < line.size() && line[pos] == '}') {
      ++pos;
      return true;
    }
    const std::size_t eq = line.find('=', pos);
    if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return false;
    std::string name(line.substr(pos, eq - pos));
    std::string value;
    pos = eq + 2;
    for (; pos < line.size() && line[pos] != '"'; ++pos) {
      if (line[pos] == '\\' && pos + 1 < line.size()) {
        ++pos;
        value.push_back(line[pos] == 'n' ? '\n' : line[pos]);
      } else {
        value.push_back(line[pos]);
      }
    }
    if (pos >= line.size()) return false;
    ++pos;  // closing quote
    out.emplace(std::move(name), std::move(value));
  }
  return false;
}

bool ParseValue(std::string_view text, double& out) {
  const std::size_t start = text.find_first_not_of(' ');
  if (start == std::string_view::npos) return false;
  std::string token(text.substr(start, text.find(' ', start) - start));
  if (token == "+Inf") out = INFINITY;
  else if (token == "-Inf") out = -INFINITY;
  else if (token == "NaN") out = NAN;
  else {
    char* end = nullptr;
    out = std::strtod(token.c_str(), &end);
    if (end == token.c_str() || *end != '\0') return false;
  }
  return true;
}

}  // namespace

double SumSamples(std::string_view exposition, std::string_view metric, const LabelMatch& match) {
  double total = 0;
  std::size_t begin = 0;
  while (begin < exposition.size()) {
    std::size_t end = exposition.find('\n', begin);
    if (end == std::string_view::npos) end = exposition.size();
    const std::string_view line = exposition.substr(begin, end - begin);
    begin = end + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line.substr(0, metric.size()) != metric || line.size() == metric.size()) continue;
    std::size_t pos = metric.size();
    if (line[pos] != '{' && line[pos] != ' ') continue;  // a longer name
    std::map<std::string, std::string> labels;
    if (line[pos] == '{' && !ParseLabels(line, pos, labels)) continue;
    bool matches = true;
    for (const auto& [name, value] : match) {
      auto it = labels.find(name);
      const std::string_view has = it == labels.end() ? std::string_view() : std::string_view(it->second);
      const bool negated = !value.empty() && value[0] == '!';
      const bool equal = has == (negated ? std::string_view(value).substr(1) : std::string_view(value));
      if (negated ? equal : (it == labels.end() || !equal)) {
        matches = false;
        break;
      }
    }
    double v = 0;
    if (matches && ParseValue(line.substr(pos), v) && !std::isnan(v)) total += v;
  }
  return total;
}

}  // namespace docket::loadgen
