#include "mash/agent/synthetic.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <random>
#include <unordered_map>

namespace mash::agent {
namespace {

// Ages are computed against a fixed date, never the clock, so output does not drift.
constexpr int kReferenceYear = 2026;

class Rng {
 public:
  explicit Rng(uint64_t seed) : g_(seed) {}
  uint64_t Next() { return g_(); }
  size_t Below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(g_() % n); }
  // Skewed towards the front of a list, roughly 1/rank: a few common names, a long tail.
  size_t Skewed(size_t n) { return Below(Below(n) + 1); }
  int Range(int lo, int hi) {
    return lo + static_cast<int>(Below(static_cast<size_t>(hi - lo + 1)));
  }
  bool Chance(double p) { return static_cast<double>(g_() >> 11) * 0x1.0p-53 < p; }
  template <class T, size_t N>
  const T& Pick(const std::array<T, N>& a) {
    return a[Below(N)];
  }

 private:
  std::mt19937_64 g_;
};

const std::array<const char*, 64> kMaleNames = {
    "William",   "James",   "John",   "Thomas",   "Oliver",  "Jack",     "Harry",     "George",
    "Charles",   "Jacob",   "Samuel", "Joseph",   "Daniel",  "David",    "Michael",   "Christopher",
    "Matthew",   "Andrew",  "Robert", "Richard",  "Edward",  "Benjamin", "Alexander", "Nicholas",
    "Anthony",   "Stephen", "Peter",  "Paul",     "Mark",    "Lee",      "Gary",      "Kevin",
    "Jason",     "Craig",   "Liam",   "Noah",     "Leo",     "Oscar",    "Archie",    "Alfie",
    "Frederick", "Henry",   "Theo",   "Mohammed", "Adam",    "Ryan",     "Connor",    "Kyle",
    "Dylan",     "Ethan",   "Lewis",  "Nathan",   "Joshua",  "Callum",   "Jamie",     "Luke",
    "Aaron",     "Timothy", "Philip", "Patrick",  "Raymond", "Kenneth",  "Zachary",   "Stuart"};
const std::array<const char*, 64> kFemaleNames = {
    "Elizabeth", "Margaret",  "Catherine", "Sarah",      "Emma",      "Emily",     "Olivia",
    "Amelia",    "Isabella",  "Jessica",   "Charlotte",  "Sophie",    "Chloe",     "Lucy",
    "Grace",     "Ruby",      "Ella",      "Mia",        "Poppy",     "Lily",      "Evie",
    "Isla",      "Freya",     "Rebecca",   "Victoria",   "Jennifer",  "Nicola",    "Samantha",
    "Rachel",    "Laura",     "Hannah",    "Amy",        "Megan",     "Natalie",   "Louise",
    "Joanne",    "Deborah",   "Susan",     "Patricia",   "Karen",     "Julie",     "Claire",
    "Helen",     "Michelle",  "Lisa",      "Kelly",      "Stacey",    "Kayleigh",  "Abigail",
    "Eleanor",   "Zoë",       "Siobhan",   "Aisha",      "Fatima",    "Alexandra", "Georgina",
    "Josephine", "Christine", "Theresa",   "Jacqueline", "Kimberley", "Chloé",     "Niamh",
    "Ffion"};
const std::array<const char*, 120> kSurnames = {
    "Smith",     "Jones",     "Williams", "Taylor",  "Brown",    "Davies",     "Evans",
    "Wilson",    "Thomas",    "Johnson",  "Roberts", "Robinson", "Thompson",   "Wright",
    "Walker",    "White",     "Edwards",  "Hughes",  "Green",    "Hall",       "Lewis",
    "Harris",    "Clarke",    "Patel",    "Jackson", "Wood",     "Turner",     "Martin",
    "Cooper",    "Hill",      "Ward",     "Morris",  "Moore",    "Clark",      "Lee",
    "King",      "Baker",     "Harrison", "Morgan",  "Allen",    "James",      "Scott",
    "Phillips",  "Watson",    "Davis",    "Parker",  "Price",    "Bennett",    "Young",
    "Griffiths", "Mitchell",  "Kelly",    "Cook",    "Carter",   "Richardson", "Bailey",
    "Collins",   "Bell",      "Shaw",     "Murphy",  "Miller",   "Cox",        "Richards",
    "Khan",      "Marshall",  "Anderson", "Simpson", "Ellis",    "Adams",      "Singh",
    "Begum",     "Wilkinson", "Foster",   "Chapman", "Powell",   "Webb",       "Rogers",
    "Gray",      "Mason",     "Ali",      "Hunt",    "Hussain",  "Campbell",   "Matthews",
    "Owen",      "Palmer",    "Holmes",   "Mills",   "Barnes",   "Knight",     "Lloyd",
    "Butler",    "Russell",   "Barker",   "Fisher",  "Stevens",  "Jenkins",    "Murray",
    "Dixon",     "Harvey",    "Graham",   "Pearson", "Ahmed",    "Fletcher",   "Walsh",
    "Kaur",      "Gibson",    "Howard",   "Andrews", "Stewart",  "Elliott",    "Reynolds",
    "O'Brien",   "McDonald",  "O'Neill",  "MacLeod", "Nowak",    "Kowalski",   "Smith-Jones",
    "Brontë"};
const std::array<const char*, 34> kSyllable1 = {
    "Ash",  "Bar", "Black",  "Brad", "Brook", "Bur",   "Cal",  "Car",  "Clay", "Cole", "Dun", "El",
    "Fair", "Fen", "Gar",    "Hal",  "Har",   "Hol",   "Kirk", "Lang", "Mar",  "Mel",  "Mor", "Nor",
    "Pen",  "Ray", "Rother", "Shel", "Stan",  "Thorn", "Wal",  "War",  "Whit", "Win"};
const std::array<const char*, 20> kSyllable2 = {
    "ford",  "ton",  "ley",   "field", "wood",  "by",   "well", "worth", "bridge", "more",
    "stone", "dale", "croft", "ham",   "hurst", "wick", "shaw", "land",  "brook",  "man"};
const std::array<const char*, 8> kSyllableMiddle = {"", "", "ing", "er", "en", "s", "el", "a"};
const std::array<const char*, 40> kAreas = {
    "LS", "M",  "B",  "BD", "S",  "NG", "L",  "CF", "EH", "G",  "SW", "SE", "N",  "E",
    "W",  "NW", "BS", "OX", "CB", "PL", "EX", "YO", "HU", "DN", "WF", "HX", "HD", "OL",
    "BL", "WN", "PR", "BB", "LA", "CA", "NE", "SR", "DH", "TS", "DL", "HG"};
constexpr std::string_view kUnitLetters = "ABDEFGHJLNPQRSTUWXYZ";
constexpr std::string_view kNiFirst = "ABCEGHJKLMNOPRSTWXYZ";
constexpr std::string_view kNiSecond = "ABCEGHJKLMNPRSTWXYZ";

struct TruePerson {
  std::string id;
  uint64_t serial = 0;             // makes every identifier unique
  std::vector<std::string> given;  // first name, then middle names
  std::string family;              // current family name
  std::string birth_family;        // "" unless changed on marriage
  int year = 0, month = 0, day = 0;
  char sex = 'f';
  std::string nhs, ni, pnc, upn;
  std::string postcode, previous_postcode;
  int age() const { return kReferenceYear - year; }
};

struct Generator {
  const SyntheticOptions& o;
  Rng rng;
  uint64_t person_counter = 0;
  std::map<std::string, uint64_t, std::less<>> record_counters;
  const std::function<void(SyntheticRecord&&)>& sink;

  std::string Surname() {
    if (rng.Chance(0.55)) return kSurnames[rng.Skewed(kSurnames.size())];
    // The long tail of UK surnames: most people's surname is rare.
    return std::string(rng.Pick(kSyllable1)) + rng.Pick(kSyllableMiddle) + rng.Pick(kSyllable2);
  }
  std::string Given(char sex) {
    const auto& list = sex == 'm' ? kMaleNames : kFemaleNames;
    return list[rng.Skewed(list.size())];
  }
  std::string Postcode() {
    std::string p = rng.Pick(kAreas);
    p += std::to_string(rng.Range(1, 30));
    p += ' ';
    p += static_cast<char>('0' + rng.Below(10));
    p += kUnitLetters[rng.Below(kUnitLetters.size())];
    p += kUnitLetters[rng.Below(kUnitLetters.size())];
    return p;
  }
  std::string NearbyPostcode(const std::string& p) {
    // Same district, different sector or unit.
    std::string n = p.substr(0, p.size() - 3);
    n += static_cast<char>('0' + rng.Below(10));
    n += kUnitLetters[rng.Below(kUnitLetters.size())];
    n += kUnitLetters[rng.Below(kUnitLetters.size())];
    return n;
  }
  void Birth(TruePerson& p, int from, int to) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    p.year = rng.Range(from, to);
    p.month = rng.Range(1, 12);
    p.day = rng.Range(1, kDays[p.month - 1]);
  }
  TruePerson NewPerson(char sex, std::string family) {
    TruePerson p;
    const uint64_t n = person_counter++;
    char buf[48];
    std::snprintf(buf, sizeof buf, "P%08llu", static_cast<unsigned long long>(n));
    p.id = buf;
    p.serial = n;
    p.sex = sex;
    p.given.push_back(Given(sex));
    if (rng.Chance(0.6)) p.given.push_back(Given(sex));
    p.family = std::move(family);
    // Unique NHS numbers: three consecutive candidates per person, the first with a valid
    // check digit (at most one of three consecutive numbers has check value 10).
    for (uint64_t k = 0; k < 3; ++k) {
      std::snprintf(buf, sizeof buf, "%09llu",
                    static_cast<unsigned long long>(400000000 + n * 3 + k));
      const int check = NhsCheckDigit(buf);
      if (check >= 0) {
        p.nhs = std::string(buf) + static_cast<char>('0' + check);
        break;
      }
    }
    return p;
  }
  void Identifiers(TruePerson& p) {
    const uint64_t n = p.serial;
    char buf[48];
    if (p.age() >= 16) {
      const uint64_t block = (n / 1000000) % (kNiFirst.size() * kNiSecond.size());
      std::snprintf(buf, sizeof buf, "%c%c%06llu%c", kNiFirst[block / kNiSecond.size()],
                    kNiSecond[block % kNiSecond.size()],
                    static_cast<unsigned long long>(n % 1000000),
                    static_cast<char>('A' + rng.Below(4)));
      p.ni = buf;
    }
    if ((p.age() >= 18 && rng.Chance(0.2)) || (p.age() >= 12 && rng.Chance(0.05))) {
      std::snprintf(buf, sizeof buf, "%02d/%07llu%c", (p.year + 18) % 100,
                    static_cast<unsigned long long>(n % 10000000),
                    static_cast<char>('A' + rng.Below(26)));
      p.pnc = buf;
    }
    if (p.age() >= 4 && p.age() <= 18) {
      std::snprintf(buf, sizeof buf, "%c%012llu", static_cast<char>('A' + n % 26),
                    static_cast<unsigned long long>(801200000000ULL + n));
      p.upn = buf;
    }
  }

  std::string Typo(const std::string& name) {
    std::string s = name;
    if (s.size() < 4) return s;
    const size_t i = 1 + rng.Below(s.size() - 2);
    switch (rng.Below(3)) {
      case 0:
        s[i] = static_cast<char>('a' + rng.Below(26));
        break;
      case 1:
        std::swap(s[i], s[i + 1]);
        break;
      default:
        s.erase(i, 1);
    }
    return s;
  }

  std::string Nickname(const std::string& given) {
    const std::string norm = NormaliseName(given);
    const auto& groups = NicknameGroups(norm);
    if (groups.empty()) return given;
    const auto names = NicknameGroupNames(groups[rng.Below(groups.size())]);
    std::string nick(names[rng.Below(names.size())]);
    if (nick == norm) return given;
    nick[0] = static_cast<char>(nick[0] - 'a' + 'A');
    return nick;
  }

  std::string DobText(int y, int m, int d) {
    char buf[48];  // sized for any int, so -Wformat-truncation can prove no truncation
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, m, d);
    return buf;
  }

  std::string RecordedDob(const TruePerson& p) {
    if (rng.Chance(o.dob_missing_rate)) return "";
    if (p.day <= 12 && p.day != p.month && rng.Chance(o.dob_swap_rate)) {
      return DobText(p.year, p.day, p.month);
    }
    if (rng.Chance(o.dob_digit_rate)) {
      for (int attempt = 0; attempt < 8; ++attempt) {
        std::string t = DobText(p.year, p.month, p.day);
        static constexpr size_t kPos[] = {2, 3, 5, 6, 8, 9};
        const size_t pos = kPos[rng.Below(6)];
        const char c = static_cast<char>('0' + rng.Below(10));
        if (c == t[pos]) continue;
        t[pos] = c;
        if (ParseDob(t)) return t;
      }
    }
    return DobText(p.year, p.month, p.day);
  }

  void Emit(const TruePerson& p, std::string_view agency) {
    SyntheticRecord r;
    uint64_t& counter = record_counters[std::string(agency)];
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*s/%07llu", static_cast<int>(agency.size()), agency.data(),
                  static_cast<unsigned long long>(++counter));
    r.record_id = buf;
    r.agency = std::string(agency);
    r.person_id = p.id;

    // Names as this agency recorded them.
    std::string given = p.given[0];
    if (rng.Chance(o.nickname_rate)) given = Nickname(given);
    if (rng.Chance(o.given_typo_rate)) given = Typo(given);
    const bool middles = agency == "health" ? rng.Chance(0.9) : rng.Chance(0.4);
    for (size_t i = 1; middles && i < p.given.size(); ++i) given += " " + p.given[i];
    std::string family = p.family;
    if (!p.birth_family.empty() && rng.Chance(0.25)) family = p.birth_family;
    if (!p.birth_family.empty() && rng.Chance(0.4)) {
      r.person.aliases.push_back(family == p.family ? p.birth_family : p.family);
    }
    if (rng.Chance(o.family_typo_rate)) family = Typo(family);
    if (rng.Chance(0.15)) {
      for (char& c : family) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
    }
    r.person.given_names = given;
    r.person.family_name = family;
    r.person.dob = RecordedDob(p);
    if (!rng.Chance(o.sex_missing_rate)) r.person.sex = p.sex == 'm' ? "male" : "female";
    if (!rng.Chance(o.postcode_missing_rate)) {
      if (rng.Chance(o.moved_rate)) {
        r.person.postcodes.push_back(p.previous_postcode);  // not told of the move
      } else {
        r.person.postcodes.push_back(p.postcode);
        if (rng.Chance(o.address_history_rate)) r.person.postcodes.push_back(p.previous_postcode);
      }
    }

    auto id = [&](const char* kind, const std::string& value, double rate) {
      if (value.empty() || !rng.Chance(rate)) return;
      std::string v = value;
      if (std::string_view(kind) == "nhs_number" && rng.Chance(o.nhs_typo_rate)) {
        const size_t i = rng.Below(v.size());
        v[i] = static_cast<char>('0' + (v[i] - '0' + 1 + rng.Below(9)) % 10);
      }
      r.person.identifiers[kind] = v;
    };
    const bool child = p.age() < 18;
    if (agency == "health") {
      id("nhs_number", p.nhs, 0.99);
    } else if (agency == "social-care") {
      id("nhs_number", p.nhs, 0.85);
      id("upn", p.upn, 0.3);
    } else if (agency == "education") {
      id("upn", p.upn, 0.97);
      id("nhs_number", p.nhs, 0.4);
    } else if (agency == "police") {
      id("pnc_id", p.pnc, 0.95);
      id("nhs_number", p.nhs, 0.2);
      id("ni_number", p.ni, 0.3);
    } else if (agency == "probation") {
      id("pnc_id", p.pnc, 0.95);
      id("ni_number", p.ni, 0.7);
      id("nhs_number", p.nhs, 0.3);
    } else if (agency == "housing") {
      id("ni_number", p.ni, 0.6);
      id("nhs_number", p.nhs, 0.1);
    }

    const std::string latest = DobText(kReferenceYear, rng.Range(1, 11), rng.Range(1, 28));
    auto cat = [&](const char* name, const char* summary) {
      r.categories[name] = {{"summary", summary}, {"latest", latest}};
    };
    r.categories = nlohmann::json::object();
    if (agency == "police") {
      cat(child ? "missing_episodes" : "intelligence",
          child ? "One missing episode (synthetic)." : "Intelligence entry (synthetic).");
    } else if (agency == "social-care") {
      cat("referrals", "Referral to children's social care (synthetic).");
    } else if (agency == "health") {
      cat("registration", "Registered with a local GP practice (synthetic).");
      // A third of the children aged 11 to 17 are known to mental health services (CAMHS), a
      // category that disclosure policies treat as special: chosen by serial, not by rng, so that
      // every other generated value stays as it was.
      if (child && p.age() >= 11 && p.serial % 3 == 0) {
        cat("mental_health", "Known to child and adolescent mental health services (synthetic).");
      }
    } else if (agency == "education") {
      cat("attendance", "Attendance below 90% this term (synthetic).");
    } else if (agency == "probation") {
      cat("supervision", "Under probation supervision (synthetic).");
    } else {
      cat("tenancy", "Council tenancy (synthetic).");
    }
    sink(std::move(r));
  }

  // Which agencies hold a record of each member; a family is known to social care, police
  // and housing as a family, to health and education as individuals.
  void EmitFamily(const std::vector<TruePerson>& members) {
    const bool social_care = rng.Chance(0.3);
    const bool police = rng.Chance(0.3);
    const bool housing = rng.Chance(0.45);
    for (const auto& p : members) {
      const bool adult = p.age() >= 18;
      if (rng.Chance(0.95)) Emit(p, "health");
      if (p.age() >= 4 && p.age() <= 18 && rng.Chance(0.95)) Emit(p, "education");
      if (social_care && rng.Chance(0.9)) Emit(p, "social-care");
      if (police && rng.Chance(adult ? 0.8 : p.age() >= 10 ? 0.4 : 0.2)) Emit(p, "police");
      if (!p.pnc.empty() && rng.Chance(0.15)) Emit(p, "police");  // known in their own right
      if (adult && !p.pnc.empty() && rng.Chance(0.5)) Emit(p, "probation");
      if (housing && rng.Chance(adult ? 0.95 : 0.3)) Emit(p, "housing");
    }
  }

  // Two people share a name and a date of birth mostly when the name is common: one of the
  // 30 commonest surnames and 16 commonest first names of the lists.
  static bool HasCommonName(const TruePerson& p) {
    auto in = [](const auto& list, size_t n, const std::string& name) {
      return std::find(list.begin(), list.begin() + n, name) != list.begin() + n;
    };
    return in(kSurnames, 30, p.family) &&
           in(p.sex == 'm' ? kMaleNames : kFemaleNames, 16, p.given[0]);
  }

  // Police may be drawn twice for one person; GenerateSynthetic keeps the first.
  void Family() {
    std::vector<TruePerson> members;
    const std::string surname = Surname();
    const std::string postcode = Postcode();
    const std::string previous = rng.Chance(0.5) ? NearbyPostcode(postcode) : Postcode();
    const bool two_parents = rng.Chance(0.75);
    TruePerson mother = NewPerson('f', surname);
    Birth(mother, 1965, 2002);
    if (two_parents && rng.Chance(0.8)) {
      mother.birth_family = Surname();  // took the partner's name on marriage
      if (mother.birth_family == mother.family) mother.birth_family.clear();
    }
    members.push_back(mother);
    if (two_parents) {
      TruePerson father = NewPerson('m', surname);
      Birth(father, std::max(1960, mother.year - 6), std::min(2002, mother.year + 6));
      members.push_back(father);
    }
    const int children = static_cast<int>(rng.Below(5));
    for (int i = 0; i < children; ++i) {
      const int from = std::max(2008, mother.year + 17);
      if (from > 2025) break;
      TruePerson child = NewPerson(rng.Chance(0.5) ? 'm' : 'f', surname);
      Birth(child, from, 2025);
      members.push_back(child);
    }
    for (auto& m : members) {
      m.postcode = postcode;
      m.previous_postcode = previous;
      Identifiers(m);
    }
    EmitFamily(members);
    for (const auto& m : members) {
      if (!HasCommonName(m) || !rng.Chance(o.stranger_rate)) continue;
      // Same name, date of birth and sex; a different person living elsewhere.
      TruePerson s = NewPerson(m.sex, m.family);
      s.given = {m.given[0]};
      s.year = m.year;
      s.month = m.month;
      s.day = m.day;
      s.postcode = Postcode();
      s.previous_postcode = rng.Chance(0.5) ? NearbyPostcode(s.postcode) : Postcode();
      Identifiers(s);
      EmitFamily({s});
    }
  }
};

}  // namespace

void GenerateSynthetic(const SyntheticOptions& options,
                       const std::function<void(SyntheticRecord&&)>& sink) {
  // One record per person and agency: a second police record for the same person is dropped.
  std::string last_person;
  std::vector<std::string> agencies_seen;
  auto dedupe = [&](SyntheticRecord&& r) {
    if (r.person_id != last_person) {
      last_person = r.person_id;
      agencies_seen.clear();
    }
    if (std::find(agencies_seen.begin(), agencies_seen.end(), r.agency) != agencies_seen.end()) {
      return;
    }
    agencies_seen.push_back(r.agency);
    sink(std::move(r));
  };
  const std::function<void(SyntheticRecord &&)> inner = dedupe;
  Generator g{options, Rng(options.seed), 0, {}, inner};
  for (size_t i = 0; i < options.families; ++i) g.Family();
}

std::vector<SyntheticRecord> GenerateSynthetic(const SyntheticOptions& options) {
  std::vector<SyntheticRecord> out;
  GenerateSynthetic(options, [&](SyntheticRecord&& r) { out.push_back(std::move(r)); });
  return out;
}

std::string SyntheticSource(std::string_view agency) {
  if (agency == "police") return "Police records management system (synthetic)";
  if (agency == "social-care") return "Children's social care case management (synthetic)";
  if (agency == "health") return "Community health and GP summary (synthetic)";
  if (agency == "education") return "School information management system (synthetic)";
  if (agency == "probation") return "Probation case management (synthetic)";
  if (agency == "housing") return "Housing management system (synthetic)";
  return "Record system (synthetic)";
}

nlohmann::json SyntheticRecordJson(const SyntheticRecord& r) {
  nlohmann::json person = r.person.ToJson();
  person.erase("identifiers");
  return {{"id", r.record_id},
          {"identifiers", r.person.identifiers},
          {"person", person},
          {"categories", r.categories}};
}

MatchQuality EvaluateMatching(const std::vector<SyntheticRecord>& records,
                              const MatchThresholds& thresholds) {
  MatchQuality q;
  std::map<std::string, PersonIndex::Builder> builders;
  std::unordered_map<std::string, const SyntheticRecord*> by_id;
  std::unordered_map<std::string, std::vector<std::string>> agencies_of;  // person -> agencies
  for (const auto& r : records) {
    auto [it, inserted] = builders.try_emplace(r.agency, thresholds);
    it->second.Add(r.record_id, r.person);
    by_id[r.record_id] = &r;
    agencies_of[r.person_id].push_back(r.agency);
  }
  std::map<std::string, PersonIndex> indexes;
  for (auto& [agency, b] : builders) indexes.emplace(agency, std::move(b).Build());
  for (const auto& [person, agencies] : agencies_of) {
    q.true_pairs += agencies.size() * (agencies.size() - 1);
  }
  for (const auto& r : records) {
    const Subject query = NormaliseSubject(r.person);
    for (const auto& [agency, index] : indexes) {
      if (agency == r.agency) continue;
      ++q.queries;
      LookupStats stats;
      for (const Match& m : index.Lookup(query, {}, &stats)) {
        const bool same = by_id.at(m.record_id)->person_id == r.person_id;
        if (m.band == MatchBand::kConfirmed) {
          ++q.confirmed;
          q.confirmed_correct += same;
        } else if (m.band == MatchBand::kPossible) {
          ++q.possible;
          q.possible_correct += same;
        }
      }
      q.candidates += stats.candidates;
    }
  }
  return q;
}

}  // namespace mash::agent
