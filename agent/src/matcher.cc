#include "mash/agent/matcher.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace mash::agent {
namespace {

double W(double m, double u) { return std::log2(m / u); }

// log2(m/u) for each agreement level; the table and its reasons are in matcher.h.
struct Weights {
  double family_exact = W(0.92, 0.01);
  double family_similar = W(0.03, 0.002);
  double family_phonetic = W(0.01, 0.005);
  double family_disagree = W(0.04, 0.983);
  double given_exact = W(0.85, 0.005);
  double given_nickname = W(0.07, 0.001);
  double given_similar = W(0.04, 0.002);
  double given_phonetic = W(0.01, 0.004);
  double given_disagree = W(0.03, 0.988);
  double middle_agree = W(0.90, 0.03);
  double middle_disagree = W(0.10, 0.97);
  double dob_exact = W(0.93, 0.0005);
  double dob_swapped = W(0.015, 0.00005);
  double dob_one_digit = W(0.03, 0.002);
  double dob_disagree = W(0.025, 0.9975);
  double postcode_full = W(0.75, 0.002);
  double postcode_full_same_family = W(0.75, 0.02);
  double postcode_household = W(0.75, 0.02);
  double postcode_sector = W(0.05, 0.02);
  double postcode_district = W(0.06, 0.04);
  double postcode_disagree = W(0.14, 0.938);
  double sex_agree = W(0.98, 0.5);
  double sex_disagree = W(0.01, 0.5);
};

const Weights& Wt() {
  static const Weights w;
  return w;
}

constexpr double kJaroWinklerSimilar = 0.92;

// One keying error (WithinOneEdit) in a name of at least four letters.
bool OneTypo(std::string_view a, std::string_view b) {
  return std::max(a.size(), b.size()) >= 4 && WithinOneEdit(a, b);
}

struct Level {
  double weight = 0;
  const char* label = nullptr;  // nullptr: disagreement or missing
};

bool SharesToken(std::string_view a, std::string_view b) {
  // Double-barrelled names: "smith jones" against "jones".
  size_t i = 0;
  while (i < a.size()) {
    size_t j = a.find(' ', i);
    if (j == std::string_view::npos) j = a.size();
    const std::string_view ta = a.substr(i, j - i);
    size_t k = 0;
    while (k < b.size()) {
      size_t l = b.find(' ', k);
      if (l == std::string_view::npos) l = b.size();
      if (ta.size() > 1 && ta == b.substr(k, l - k)) return true;
      k = l + 1;
    }
    i = j + 1;
  }
  return false;
}

// log2(m/u) with u the name's share of the store (see NameFrequencies), or `fixed`.
double FrequencyWeight(double m, double fixed, const NameFrequencies* freq,
                       const std::unordered_map<std::string, uint32_t>* counts,
                       const std::string& name) {
  if (freq == nullptr || freq->records < kMinFrequencyRecords) return fixed;
  const auto it = counts->find(name);
  const double f = it == counts->end() ? 0.0 : static_cast<double>(it->second) / freq->records;
  return std::log2(m / std::max(f, kMinNameU));
}

Level CompareFamily(const NameForm& q, const NameForm& r, const NameFrequencies* freq) {
  const Weights& w = Wt();
  if (q.family_flat.empty() || r.family_flat.empty()) return {};
  if (q.family_flat == r.family_flat) {
    return {
        FrequencyWeight(0.92, w.family_exact, freq, freq ? &freq->family : nullptr, r.family_flat),
        "family_name"};
  }
  const bool multi =
      q.family.find(' ') != std::string::npos || r.family.find(' ') != std::string::npos;
  if ((multi && SharesToken(q.family, r.family)) ||
      JaroWinkler(q.family_flat, r.family_flat) >= kJaroWinklerSimilar ||
      OneTypo(q.family_flat, r.family_flat)) {
    return {w.family_similar, "family_name_similar"};
  }
  if (q.family_code == r.family_code) return {w.family_phonetic, "family_name_phonetic"};
  return {w.family_disagree, nullptr};
}

// True when two names' nickname groups (NameForm::given_groups) have one in common.
bool SharesGroup(const std::vector<uint16_t>& a, const std::vector<uint16_t>& b) {
  for (uint16_t x : a) {
    if (std::find(b.begin(), b.end(), x) != b.end()) return true;
  }
  return false;
}

bool MistypedNicknames(const NameForm& a, const NameForm& b) {
  return AreMistypedNicknames(a.given, *a.given_groups, b.given, *b.given_groups);
}

// Could be the same first given name as keyed: equal, a nickname or one typo away.
bool SameGivenName(const NameForm& a, const NameForm& b) {
  if (a.given.empty() || b.given.empty()) return false;
  return a.given == b.given || SharesGroup(*a.given_groups, *b.given_groups) ||
         OneTypo(a.given, b.given) || MistypedNicknames(a, b);
}

bool InMiddle(std::string_view given, std::string_view middle) {
  return !given.empty() && given.size() > 1 && SharesToken(given, middle);
}

Level CompareGiven(const NameForm& q, const NameForm& r, const NameFrequencies* freq) {
  const Weights& w = Wt();
  if (q.given.empty() || r.given.empty()) return {};
  if (q.given == r.given) {
    return {FrequencyWeight(0.85, w.given_exact, freq, freq ? &freq->given : nullptr, r.given),
            "given_name"};
  }
  if (SharesGroup(*q.given_groups, *r.given_groups)) {
    return {w.given_nickname, "given_name_nickname"};
  }
  if (JaroWinkler(q.given, r.given) >= kJaroWinklerSimilar || OneTypo(q.given, r.given) ||
      MistypedNicknames(q, r) || InMiddle(q.given, r.middle) || InMiddle(r.given, q.middle)) {
    return {w.given_similar, "given_name_similar"};
  }
  const bool initial = (q.given.size() == 1 || r.given.size() == 1) && q.given[0] == r.given[0];
  if (initial || q.given_code == r.given_code) return {w.given_phonetic, "given_name_phonetic"};
  return {w.given_disagree, nullptr};
}

// Only when both sides record middle names and the first given names were not matched
// through them.
Level CompareMiddle(const NameForm& q, const NameForm& r, const Level& given) {
  if (q.middle.empty() || r.middle.empty()) return {};
  if (given.label != nullptr && std::string_view(given.label) == "given_name_similar" &&
      (InMiddle(q.given, r.middle) || InMiddle(r.given, q.middle))) {
    return {};
  }
  const bool initial = (q.middle.size() == 1 || r.middle.size() == 1) && q.middle[0] == r.middle[0];
  if (initial || SharesToken(q.middle, r.middle)) {
    return {Wt().middle_agree, "middle_name"};
  }
  return {Wt().middle_disagree, nullptr};
}

Level CompareDob(const Dob& q, const Dob& r) {
  const Weights& w = Wt();
  if (!q.known() || !r.known()) return {};
  if (q.year == r.year && q.month == r.month && q.day == r.day) return {w.dob_exact, "dob"};
  if (q.year == r.year && q.month == r.day && q.day == r.month) {
    return {w.dob_swapped, "dob_swapped"};
  }
  const int a[8] = {q.year / 1000, q.year / 100 % 10, q.year / 10 % 10, q.year % 10,
                    q.month / 10,  q.month % 10,      q.day / 10,       q.day % 10};
  const int b[8] = {r.year / 1000, r.year / 100 % 10, r.year / 10 % 10, r.year % 10,
                    r.month / 10,  r.month % 10,      r.day / 10,       r.day % 10};
  int differ = 0;
  for (int i = 0; i < 8; ++i) differ += a[i] != b[i];
  if (differ == 1) return {w.dob_one_digit, "dob_one_digit"};
  return {w.dob_disagree, nullptr};
}

// `same_family`: the family names agreed exactly. Household members share both a family name
// and a postcode, so the two agreements are not independent evidence (Fellegi–Sunter assumes
// they are): given the same family name, a different person at the same postcode is common
// (u 0.05, a parent, child or sibling), and the postcode counts for less.
Level ComparePostcodes(const std::vector<std::string>& q, const std::vector<std::string>& r,
                       const std::vector<std::string>& r_household, bool same_family) {
  const Weights& w = Wt();
  if (q.empty() || r.empty()) return {};
  int best = 0;  // 3 full, 2 sector, 1 district
  for (const auto& a : q) {
    for (const auto& b : r) {
      if (a == b) {
        return {same_family ? w.postcode_full_same_family : w.postcode_full, "postcode"};
      }
      const size_t oa = a.size() - 3, ob = b.size() - 3;
      if (oa == ob && a.compare(0, oa, b, 0, ob) == 0)
        best = std::max(best, a[oa] == b[ob] ? 2 : 1);
    }
  }
  for (const auto& a : q) {
    if (std::find(r_household.begin(), r_household.end(), a) != r_household.end()) {
      return {w.postcode_household, "postcode_household"};
    }
  }
  if (best == 2) return {w.postcode_sector, "postcode_sector"};
  if (best == 1) return {w.postcode_district, "postcode_district"};
  return {w.postcode_disagree, nullptr};
}

Level CompareSex(char q, char r) {
  if (q == 0 || r == 0) return {};
  return q == r ? Level{Wt().sex_agree, "sex"} : Level{Wt().sex_disagree, nullptr};
}

NameForm MakeName(const std::vector<std::string>& given, std::string_view family) {
  NameForm n;
  if (!given.empty()) {
    n.given = given[0];
    for (size_t i = 1; i < given.size(); ++i) {
      if (!n.middle.empty()) n.middle.push_back(' ');
      n.middle += given[i];
    }
    n.given_code = Nysiis(n.given);
    n.given_groups = &NicknameGroups(n.given);
  }
  n.family = NormaliseName(family);
  for (char c : n.family) {
    if (c != ' ') n.family_flat.push_back(c);
  }
  n.family_code = Nysiis(n.family_flat);
  return n;
}

uint64_t Hash(char tag, std::string_view a, std::string_view b = {}, int n = -1) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  auto mix = [&](unsigned char c) {
    h ^= c;
    h *= 1099511628211ULL;
  };
  mix(static_cast<unsigned char>(tag));
  for (char c : a) mix(static_cast<unsigned char>(c));
  mix(0x1f);
  for (char c : b) mix(static_cast<unsigned char>(c));
  if (n >= 0) {
    mix(0x1e);
    for (int i = 0; i < 4; ++i) mix(static_cast<unsigned char>(n >> (8 * i)));
  }
  return h;
}

int DobNumber(int y, int m, int d) { return y * 10000 + m * 100 + d; }

// Blocking keys of a subject. `query` adds the probes that only a query needs.
void BlockingKeys(const Subject& s, bool query, std::vector<uint64_t>* out) {
  for (const auto& [kind, value] : s.identifiers) {
    out->push_back(Hash('i', IdKindName(kind), value));
  }
  const int year = s.dob.known() ? s.dob.year : -1;
  for (const auto& n : s.names) {
    if (n.family_code.empty()) continue;
    if (year >= 0) out->push_back(Hash('f', n.family_code, {}, year));
    if (n.given.empty()) continue;
    const auto& groups = *n.given_groups;
    if (groups.empty()) {
      out->push_back(Hash('n', n.family_code, n.given_code));
    } else {
      for (uint16_t g : groups) out->push_back(Hash('g', n.family_code, {}, g));
    }
    // A name in a nickname group also gets its NYSIIS key, so that a misspelt familiar form
    // ("Bil") still meets the record through the phonetic code.
    if (!groups.empty()) out->push_back(Hash('n', n.family_code, n.given_code));
  }
  if (s.dob.known()) {
    out->push_back(Hash('d', {}, {}, DobNumber(s.dob.year, s.dob.month, s.dob.day)));
    if (query && s.dob.day <= 12 && s.dob.day != s.dob.month) {
      out->push_back(Hash('d', {}, {}, DobNumber(s.dob.year, s.dob.day, s.dob.month)));
    }
  }
  if (!s.names.empty() && !s.names[0].given.empty()) {
    const std::string initial(1, s.names[0].given[0]);
    for (const auto& p : s.postcodes) out->push_back(Hash('p', PostcodeSector(p), initial));
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

// A household in one store: the records that share the primary family name and a postcode.
// Sets each record's household_postcodes (the others' postcodes: where the household lived
// before or lives now) and household_namesakes. A family name at a postcode held by more than
// kMaxHousehold records (a hostel, a care home) is not a household: namesakes stay unknown.
void LinkHouseholds(std::vector<Subject>* subjects) {
  auto in_household = [](const Subject& s) {
    return !s.names.empty() && !s.names[0].family_flat.empty() && !s.postcodes.empty();
  };
  std::vector<std::pair<uint64_t, uint32_t>> at;  // hash(family, postcode) -> record, sorted
  for (uint32_t i = 0; i < subjects->size(); ++i) {
    const Subject& s = (*subjects)[i];
    if (!in_household(s)) continue;
    for (const auto& p : s.postcodes) at.emplace_back(Hash('h', s.names[0].family_flat, p), i);
  }
  std::sort(at.begin(), at.end());
  std::vector<uint32_t> members;
  for (uint32_t i = 0; i < subjects->size(); ++i) {
    Subject& s = (*subjects)[i];
    if (!in_household(s)) continue;
    members.clear();
    bool too_large = false;
    for (const auto& p : s.postcodes) {
      const uint64_t k = Hash('h', s.names[0].family_flat, p);
      const auto lo = std::lower_bound(at.begin(), at.end(), std::make_pair(k, 0u));
      const auto hi = std::upper_bound(lo, at.end(), std::make_pair(k, UINT32_MAX));
      if (static_cast<size_t>(hi - lo) > PersonIndex::kMaxHousehold) too_large = true;
      for (auto it = lo; it != hi && !too_large; ++it) {
        const uint32_t j = it->second;
        const Subject& m = (*subjects)[j];
        // The hash only finds candidates: a household needs the same name and postcode.
        if (j == i || m.names[0].family_flat != s.names[0].family_flat ||
            std::find(m.postcodes.begin(), m.postcodes.end(), p) == m.postcodes.end() ||
            std::find(members.begin(), members.end(), j) != members.end()) {
          continue;
        }
        members.push_back(j);
      }
    }
    if (too_large) continue;
    s.household_namesakes = 0;
    for (uint32_t j : members) {
      const Subject& m = (*subjects)[j];
      if (SameGivenName(s.names[0], m.names[0])) ++s.household_namesakes;
      for (const auto& other : m.postcodes) {
        if (std::find(s.postcodes.begin(), s.postcodes.end(), other) == s.postcodes.end() &&
            std::find(s.household_postcodes.begin(), s.household_postcodes.end(), other) ==
                s.household_postcodes.end()) {
          s.household_postcodes.push_back(other);
        }
      }
    }
  }
}

bool Is(const Level& l, std::string_view label) {
  return l.label != nullptr && std::string_view(l.label) == label;
}

// Rule 2b of matcher.h: the record is the only one of its household in the store who could
// carry the query's first name, and the query is at that household's address.
bool HouseholdIdentity(const NameForm* q, const NameForm* r, const Level& family,
                       const Level& middle, const Level& dob, const Level& postcode,
                       const Level& sex, const Subject& record) {
  if (record.household_namesakes != 0 || q == nullptr || r == nullptr) return false;
  if (!SameGivenName(*q, *r)) return false;
  if (!Is(postcode, "postcode") && !Is(postcode, "postcode_household")) return false;
  if (middle.weight < 0 || sex.weight < 0) return false;
  if (Is(family, "family_name") || Is(family, "family_name_similar")) return dob.weight >= 0;
  // A changed family name (marriage): the exact date of birth must agree instead.
  return Is(dob, "dob");
}

}  // namespace

std::string_view MatchBandName(MatchBand band) {
  switch (band) {
    case MatchBand::kConfirmed:
      return "confirmed";
    case MatchBand::kPossible:
      return "possible";
    case MatchBand::kNone:
      break;
  }
  return "none";
}

std::string_view IdKindName(IdKind kind) {
  switch (kind) {
    case IdKind::kNhsNumber:
      return "nhs_number";
    case IdKind::kPncId:
      return "pnc_id";
    case IdKind::kUpn:
      return "upn";
    case IdKind::kNiNumber:
      return "ni_number";
  }
  return "unknown";
}

Subject NormaliseSubject(const schemas::Person& p) {
  Subject s;
  const std::vector<std::string> given = NameTokens(p.given_names);
  if (!given.empty() || !p.family_name.empty()) s.names.push_back(MakeName(given, p.family_name));
  for (const auto& alias : p.aliases) {
    std::vector<std::string> tokens = NameTokens(alias);
    if (tokens.empty()) continue;
    if (tokens.size() == 1) {
      s.names.push_back(MakeName(given, tokens[0]));
    } else {
      const std::string family = tokens.back();
      tokens.pop_back();
      s.names.push_back(MakeName(tokens, family));
    }
  }
  if (auto d = ParseDob(p.dob)) s.dob = *d;
  if (p.sex == "female") {
    s.sex = 'f';
  } else if (p.sex == "male") {
    s.sex = 'm';
  } else if (p.sex == "other") {
    s.sex = 'o';
  }
  for (const auto& pc : p.postcodes) {
    if (auto n = NormalisePostcode(pc)) {
      if (std::find(s.postcodes.begin(), s.postcodes.end(), *n) == s.postcodes.end()) {
        s.postcodes.push_back(std::move(*n));
      }
    }
  }
  for (IdKind kind : {IdKind::kNhsNumber, IdKind::kPncId, IdKind::kUpn, IdKind::kNiNumber}) {
    const auto it = p.identifiers.find(std::string(IdKindName(kind)));
    if (it == p.identifiers.end()) continue;
    if (auto v = CanonicalIdentifier(IdKindName(kind), it->second)) {
      s.identifiers.emplace_back(kind, std::move(*v));
    }
  }
  return s;
}

Comparison Compare(const Subject& q, const Subject& r, const MatchThresholds& t,
                   const NameFrequencies* freq) {
  Comparison c;
  std::vector<std::string> id_agreed;
  bool id_conflict = false;
  for (const auto& [kind, value] : q.identifiers) {
    for (const auto& [rkind, rvalue] : r.identifiers) {
      if (kind != rkind) continue;
      if (value == rvalue) {
        id_agreed.emplace_back(IdKindName(kind));
      } else {
        id_conflict = true;
      }
    }
  }

  // Names: the best (name or alias) pairing.
  Level best_family, best_given, best_middle;
  bool have_names = false;
  const NameForm* best_q = nullptr;
  const NameForm* best_r = nullptr;
  for (const auto& qn : q.names) {
    for (const auto& rn : r.names) {
      const Level f = CompareFamily(qn, rn, freq);
      const Level g = CompareGiven(qn, rn, freq);
      const Level m = CompareMiddle(qn, rn, g);
      if (!have_names || f.weight + g.weight + m.weight >
                             best_family.weight + best_given.weight + best_middle.weight) {
        best_family = f;
        best_given = g;
        best_middle = m;
        best_q = &qn;
        best_r = &rn;
        have_names = true;
      }
    }
  }
  const Level dob = CompareDob(q.dob, r.dob);
  const bool same_family =
      best_family.label != nullptr && std::string_view(best_family.label) == "family_name";
  const Level postcode =
      ComparePostcodes(q.postcodes, r.postcodes, r.household_postcodes, same_family);
  const Level sex = CompareSex(q.sex, r.sex);

  double demographic = 0;
  for (const Level& l : {best_family, best_given, best_middle, dob, postcode, sex}) {
    demographic += l.weight;
  }

  c.agreed = id_agreed;
  for (const Level& l : {best_family, best_given, best_middle, dob, postcode, sex}) {
    if (l.label != nullptr) c.agreed.emplace_back(l.label);
  }

  if (!id_agreed.empty() && !id_conflict) {
    c.score = demographic + kIdentifierAgree;
    c.band = demographic >= kIdentifierVetoScore ? MatchBand::kConfirmed : MatchBand::kPossible;
    return c;
  }
  c.score = demographic;
  if (id_conflict) c.score += kIdentifierConflict;
  if (!id_agreed.empty()) c.score += kIdentifierAgree;  // one agrees, another conflicts
  if (c.score >= t.confirmed && !id_conflict) {
    c.band = MatchBand::kConfirmed;
  } else if (!id_conflict &&
             HouseholdIdentity(best_q, best_r, best_family, best_middle, dob, postcode, sex, r)) {
    c.band = MatchBand::kConfirmed;
    c.agreed.emplace_back("household");
  } else if (c.score >= t.possible) {
    c.band = MatchBand::kPossible;
  }
  return c;
}

void PersonIndex::Builder::Reserve(size_t records) {
  ids_.reserve(records);
  subjects_.reserve(records);
  postings_.reserve(records * 6);
}

void PersonIndex::Builder::Add(std::string record_id, const schemas::Person& person) {
  const auto index = static_cast<uint32_t>(ids_.size());
  ids_.push_back(std::move(record_id));
  subjects_.push_back(NormaliseSubject(person));
  std::vector<uint64_t> keys;
  BlockingKeys(subjects_.back(), /*query=*/false, &keys);
  for (uint64_t k : keys) postings_.emplace_back(k, index);
}

PersonIndex PersonIndex::Builder::Build() && {
  PersonIndex index;
  std::sort(postings_.begin(), postings_.end());
  LinkHouseholds(&subjects_);
  for (const Subject& s : subjects_) {
    if (s.names.empty()) continue;
    if (!s.names[0].family_flat.empty()) ++index.frequencies_.family[s.names[0].family_flat];
    if (!s.names[0].given.empty()) ++index.frequencies_.given[s.names[0].given];
  }
  index.frequencies_.records = subjects_.size();
  index.thresholds_ = thresholds_;
  index.ids_ = std::move(ids_);
  index.subjects_ = std::move(subjects_);
  index.postings_ = std::move(postings_);
  ids_.clear();
  subjects_.clear();
  postings_.clear();
  return index;
}

std::vector<Match> PersonIndex::Lookup(const schemas::Person& query, const LookupOptions& options,
                                       LookupStats* stats) const {
  return Lookup(NormaliseSubject(query), options, stats);
}

std::vector<Match> PersonIndex::Lookup(const Subject& query, const LookupOptions& options,
                                       LookupStats* stats) const {
  LookupStats local;
  std::vector<uint64_t> keys;
  BlockingKeys(query, /*query=*/true, &keys);
  std::vector<uint32_t> candidates;
  for (uint64_t k : keys) {
    ++local.keys;
    const auto lo = std::lower_bound(postings_.begin(), postings_.end(), std::make_pair(k, 0u));
    const auto hi = std::upper_bound(lo, postings_.end(), std::make_pair(k, UINT32_MAX));
    if (static_cast<size_t>(hi - lo) > kMaxBlock) {
      ++local.skipped_blocks;
      continue;
    }
    for (auto it = lo; it != hi; ++it) candidates.push_back(it->second);
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  local.candidates = candidates.size();

  std::vector<Match> out;
  for (uint32_t i : candidates) {
    Comparison c = Compare(query, subjects_[i], thresholds_, &frequencies_);
    if (c.band < options.min_band) continue;
    out.push_back(Match{ids_[i], c.band, c.score, std::move(c.agreed)});
  }
  std::stable_sort(out.begin(), out.end(), [](const Match& a, const Match& b) {
    if (a.band != b.band) return a.band > b.band;
    return a.score > b.score;
  });
  if (out.size() > options.limit) out.resize(options.limit);
  if (stats != nullptr) *stats = local;
  return out;
}

}  // namespace mash::agent
