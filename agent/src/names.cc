#include "mash/agent/names.h"

#include <algorithm>
#include <array>
#include <unordered_map>

namespace mash::agent {
namespace {

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char ToLower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
char ToUpper(char c) { return IsLower(c) ? static_cast<char>(c - 'a' + 'A') : c; }

// ASCII folding of U+00C0..U+00FF (lower case); "" drops the character (× and ÷).
const char* const kLatin1Fold[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
    "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y"};

}  // namespace

std::string NormaliseName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  bool pending_space = false;
  auto emit = [&](std::string_view s) {
    if (pending_space && !out.empty()) out.push_back(' ');
    pending_space = false;
    out.append(s);
  };
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      const char ch = ToLower(static_cast<char>(c));
      if (IsLower(ch)) {
        emit(std::string_view(&ch, 1));
      } else if (ch == '\'' || ch == '.' || ch == '`') {
        // O'Brien, St. John: joined, not split.
      } else if (ch == ' ' || ch == '-' || ch == ',' || ch == '\t' || ch == '_' || ch == '/') {
        pending_space = true;
      }
      continue;
    }
    // Two-byte sequences: Latin-1 letters fold; U+2019 (’) and other multi-byte runs are
    // skipped whole so that a stray continuation byte never becomes a letter.
    if (c == 0xC3 && i + 1 < name.size()) {
      const auto c2 = static_cast<unsigned char>(name[i + 1]);
      if (c2 >= 0x80 && c2 <= 0xBF) emit(kLatin1Fold[c2 - 0x80]);
      ++i;
      continue;
    }
    size_t len = (c >= 0xF0) ? 4 : (c >= 0xE0) ? 3 : (c >= 0xC0) ? 2 : 1;
    i += len - 1;
  }
  return out;
}

std::vector<std::string> NameTokens(std::string_view name) {
  std::vector<std::string> tokens;
  const std::string n = NormaliseName(name);
  size_t start = 0;
  while (start < n.size()) {
    size_t end = n.find(' ', start);
    if (end == std::string::npos) end = n.size();
    if (end > start) tokens.emplace_back(n.substr(start, end - start));
    start = end + 1;
  }
  return tokens;
}

double JaroWinkler(std::string_view a, std::string_view b) {
  if (a.empty() && b.empty()) return 1.0;
  if (a.empty() || b.empty()) return 0.0;
  if (a == b) return 1.0;
  // Names are short; fixed buffers keep this allocation-free (longer inputs are truncated).
  constexpr size_t kMax = 64;
  const size_t la = std::min(a.size(), kMax), lb = std::min(b.size(), kMax);
  const size_t window = std::max(la, lb) / 2 > 0 ? std::max(la, lb) / 2 - 1 : 0;
  std::array<bool, kMax> ma{}, mb{};
  size_t matches = 0;
  for (size_t i = 0; i < la; ++i) {
    const size_t lo = i > window ? i - window : 0;
    const size_t hi = std::min(i + window + 1, lb);
    for (size_t j = lo; j < hi; ++j) {
      if (!mb[j] && a[i] == b[j]) {
        ma[i] = mb[j] = true;
        ++matches;
        break;
      }
    }
  }
  if (matches == 0) return 0.0;
  size_t k = 0, half_transpositions = 0;
  for (size_t i = 0; i < la; ++i) {
    if (!ma[i]) continue;
    while (!mb[k]) ++k;
    if (a[i] != b[k]) ++half_transpositions;
    ++k;
  }
  const double m = static_cast<double>(matches);
  const double jaro =
      (m / la + m / lb + (m - half_transpositions / 2.0) / m) / 3.0;  // NOLINT(integer division)
  size_t prefix = 0;
  while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix]) ++prefix;
  return jaro + prefix * 0.1 * (1.0 - jaro);
}

bool WithinOneEdit(std::string_view a, std::string_view b) {
  if (a == b) return false;
  if (a.size() < b.size()) std::swap(a, b);
  if (a.size() - b.size() > 1) return false;
  size_t i = 0;
  while (i < b.size() && a[i] == b[i]) ++i;
  if (a.size() != b.size()) return a.substr(i + 1) == b.substr(i);    // one deletion
  if (a.substr(i + 1) == b.substr(i + 1)) return true;                // one substitution
  return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] &&  // adjacent swap
         a.substr(i + 2) == b.substr(i + 2);
}

std::string Nysiis(std::string_view name) {
  std::string s;
  s.reserve(name.size());
  for (char c : name) {
    c = ToUpper(c);
    if (IsUpper(c)) s.push_back(c);
  }
  if (s.empty()) return s;
  auto starts = [&](std::string_view p) { return s.compare(0, p.size(), p) == 0; };
  auto ends = [&](std::string_view p) {
    return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
  };
  if (starts("MAC")) {
    s.replace(0, 3, "MCC");
  } else if (starts("KN")) {
    s.replace(0, 2, "NN");
  } else if (starts("K")) {
    s[0] = 'C';
  } else if (starts("PH") || starts("PF")) {
    s.replace(0, 2, "FF");
  } else if (starts("SCH")) {
    s.replace(0, 3, "SSS");
  }
  if (s.size() > 2 && (ends("EE") || ends("IE"))) {
    s.replace(s.size() - 2, 2, "Y");
  } else if (s.size() > 2 && (ends("DT") || ends("RT") || ends("RD") || ends("NT") || ends("ND"))) {
    s.replace(s.size() - 2, 2, "D");
  }
  auto vowel = [](char c) { return c == 'A' || c == 'E' || c == 'I' || c == 'O' || c == 'U'; };
  std::string key(1, s[0]);
  for (size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    const bool has_next = i + 1 < s.size();
    if (c == 'E' && has_next && s[i + 1] == 'V') {
      s[i] = 'A';
      s[i + 1] = 'F';
    } else if (vowel(c)) {
      s[i] = 'A';
    } else if (c == 'Q') {
      s[i] = 'G';
    } else if (c == 'Z') {
      s[i] = 'S';
    } else if (c == 'M') {
      s[i] = 'N';
    } else if (c == 'K') {
      s[i] = (has_next && s[i + 1] == 'N') ? 'N' : 'C';
    } else if (s.compare(i, 3, "SCH") == 0) {
      s[i + 1] = 'S';
      s[i + 2] = 'S';
    } else if (s.compare(i, 2, "PH") == 0) {
      s[i] = 'F';
      s[i + 1] = 'F';
    } else if (c == 'H' && (!vowel(s[i - 1]) || !has_next || !vowel(s[i + 1]))) {
      s[i] = s[i - 1];
    } else if (c == 'W' && vowel(s[i - 1])) {
      s[i] = s[i - 1];
    }
    if (s[i] != key.back()) key.push_back(s[i]);
  }
  if (key.size() > 1 && key.back() == 'S') key.pop_back();
  if (key.size() > 2 && key.compare(key.size() - 2, 2, "AY") == 0)
    key.replace(key.size() - 2, 2, "Y");
  if (key.size() > 1 && key.back() == 'A') key.pop_back();
  return key;
}

namespace {

// Common UK given names and their familiar forms; each line is one group. Several formal
// spellings can share a group (Catherine/Katherine), and a familiar form can be in several
// groups (Alex, Sam, Chris, Jo, Pat, Terry, Nicky, Frankie, Harry).
const std::vector<std::vector<std::string_view>>& NicknameGroupList() {
  static const std::vector<std::vector<std::string_view>> kGroups = {
      {"william", "bill", "billy", "will", "willy", "liam"},
      {"elizabeth", "liz", "lizzie", "lizzy", "beth", "betty", "bess", "eliza", "libby", "elsie"},
      {"robert", "bob", "bobby", "rob", "robbie", "bert"},
      {"richard", "rick", "ricky", "dick", "rich", "richie"},
      {"james", "jim", "jimmy", "jamie"},
      {"john", "jack", "johnny", "jon"},
      {"jonathan", "jon", "jonny", "johnny"},
      {"margaret", "maggie", "meg", "peggy", "marge", "madge", "greta"},
      {"catherine", "katherine", "kathryn", "kate", "katie", "kathy", "cathy", "kat", "kitty"},
      {"thomas", "tom", "tommy"},
      {"michael", "mike", "mick", "micky", "mickey"},
      {"christopher", "chris", "kit"},
      {"christine", "christina", "chris", "chrissie", "tina"},
      {"alexander", "alex", "alec", "sandy", "xander"},
      {"alexandra", "alex", "alexa", "lexi", "sasha"},
      {"samuel", "sam", "sammy"},
      {"samantha", "sam", "sammy", "sammie"},
      {"daniel", "dan", "danny"},
      {"david", "dave", "davy", "davie"},
      {"edward", "ed", "eddie", "ted", "teddy", "ned"},
      {"anthony", "tony", "ant"},
      {"joseph", "joe", "joey"},
      {"josephine", "jo", "josie"},
      {"joanne", "joanna", "jo"},
      {"matthew", "matt", "matty"},
      {"andrew", "andy", "drew"},
      {"nicholas", "nick", "nicky"},
      {"nicola", "nicky", "nikki"},
      {"benjamin", "ben", "benny", "benji"},
      {"charles", "charlie", "chas"},
      {"charlotte", "charlie", "lottie"},
      {"patrick", "pat", "paddy"},
      {"patricia", "pat", "patsy", "trish", "tricia"},
      {"stephen", "steven", "steve", "stevie"},
      {"rebecca", "becky", "becca", "bex"},
      {"victoria", "vicky", "vikki", "tori"},
      {"jennifer", "jenny", "jen"},
      {"jessica", "jess", "jessie"},
      {"deborah", "debbie", "debs", "deb"},
      {"susan", "suzanne", "sue", "susie", "suzy"},
      {"peter", "pete"},
      {"philip", "phillip", "phil", "pip"},
      {"timothy", "tim", "timmy"},
      {"frederick", "fred", "freddie", "freddy"},
      {"henry", "harry", "hal"},
      {"harold", "harry", "hal"},
      {"abigail", "abby", "abi", "gail"},
      {"amelia", "millie", "milly"},
      {"emily", "em", "emmy"},
      {"isabel", "isabella", "isabelle", "izzy", "issy", "bella"},
      {"gregory", "greg"},
      {"kenneth", "ken", "kenny"},
      {"ronald", "ron", "ronnie"},
      {"donald", "don", "donny"},
      {"leonard", "len", "lenny"},
      {"lawrence", "laurence", "larry", "laurie"},
      {"raymond", "ray"},
      {"gerald", "gerry", "jerry"},
      {"terence", "terry"},
      {"theresa", "teresa", "terry", "tess", "tessa"},
      {"valerie", "val"},
      {"dorothy", "dot", "dotty", "dolly"},
      {"florence", "flo", "florrie"},
      {"frances", "fran", "frankie"},
      {"francis", "frank", "frankie"},
      {"jacqueline", "jackie", "jacqui"},
      {"joshua", "josh"},
      {"kimberley", "kimberly", "kim"},
      {"madeleine", "madeline", "maddie", "maddy"},
      {"natalie", "nat", "nattie"},
      {"natasha", "tasha", "tash"},
      {"nathan", "nathaniel", "nat", "nate"},
      {"oliver", "ollie", "olly"},
      {"olivia", "liv", "livvy", "ollie"},
      {"penelope", "penny"},
      {"rosemary", "rosalind", "rosie", "ros"},
      {"sarah", "sara", "sally", "sadie"},
      {"zachary", "zach", "zack"},
      {"stuart", "stewart", "stu"},
      {"jacob", "jake"},
      {"mohammed", "muhammad", "mohammad", "mohamed", "mo"},
      {"gabriel", "gabe"},
      {"gabrielle", "gabby", "gabi"},
      {"eleanor", "ellie", "nell", "nellie"},
      {"helen", "nell", "nellie"},
      {"megan", "meg"},
      {"ashley", "ash"},
      {"kayleigh", "kayley", "kaylee"},
      {"bradley", "brad"},
      {"callum", "cal"},
      {"cameron", "cam"},
      {"georgina", "georgie", "gina"},
      {"george", "georgie"},
      {"louise", "lou", "lulu"},
      {"louis", "lewis", "lou"},
  };
  return kGroups;
}

struct NicknameTable {
  std::unordered_map<std::string, std::vector<uint16_t>> groups;
  size_t pairs = 0;
};

const NicknameTable& Nicknames() {
  static const NicknameTable table = [] {
    NicknameTable t;
    uint16_t g = 0;
    for (const auto& group : NicknameGroupList()) {
      for (std::string_view name : group) t.groups[std::string(name)].push_back(g);
      t.pairs += group.size() - 1;
      ++g;
    }
    return t;
  }();
  return table;
}

}  // namespace

const std::vector<uint16_t>& NicknameGroups(std::string_view normalised_given) {
  static const std::vector<uint16_t> kNone;
  const auto& t = Nicknames();
  const auto it = t.groups.find(std::string(normalised_given));
  return it == t.groups.end() ? kNone : it->second;
}

bool AreNicknames(std::string_view a, std::string_view b) {
  if (a == b) return false;
  const auto& ga = NicknameGroups(a);
  if (ga.empty()) return false;
  const auto& gb = NicknameGroups(b);
  for (uint16_t x : ga) {
    if (std::find(gb.begin(), gb.end(), x) != gb.end()) return true;
  }
  return false;
}

namespace {

bool MistypedFormOf(std::string_view typed, std::string_view other,
                    const std::vector<uint16_t>& other_groups) {
  for (uint16_t g : other_groups) {
    for (std::string_view name : NicknameGroupList()[g]) {
      if (name != other && WithinOneEdit(typed, name)) return true;
    }
  }
  return false;
}

}  // namespace

bool AreMistypedNicknames(std::string_view a, std::string_view b) {
  return AreMistypedNicknames(a, NicknameGroups(a), b, NicknameGroups(b));
}

bool AreMistypedNicknames(std::string_view a, const std::vector<uint16_t>& groups_a,
                          std::string_view b, const std::vector<uint16_t>& groups_b) {
  if (a.size() < 3 || b.size() < 3 || a == b) return false;
  return MistypedFormOf(a, b, groups_b) || MistypedFormOf(b, a, groups_a);
}

size_t NicknamePairCount() { return Nicknames().pairs; }

std::vector<std::string_view> NicknameGroupNames(uint16_t group) {
  const auto& groups = NicknameGroupList();
  if (group >= groups.size()) return {};
  return groups[group];
}

std::optional<Dob> ParseDob(std::string_view t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!IsDigit(t[i])) return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (t[i] - '0');
    return v;
  };
  Dob d{num(0, 4), num(5, 2), num(8, 2)};
  if (d.year < 1880 || d.year > 2199 || d.month < 1 || d.month > 12 || d.day < 1) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;
  const int max_day = (d.month == 2 && !leap) ? 28 : kDays[d.month - 1];
  if (d.day > max_day) return std::nullopt;
  return d;
}

std::optional<std::string> NormalisePostcode(std::string_view text) {
  std::string p;
  for (char c : text) {
    if (c == ' ' || c == '\t') continue;
    c = ToUpper(c);
    if (!IsUpper(c) && !IsDigit(c)) return std::nullopt;
    p.push_back(c);
  }
  if (p.size() < 5 || p.size() > 7) return std::nullopt;
  const size_t in = p.size() - 3;
  if (!IsDigit(p[in]) || !IsUpper(p[in + 1]) || !IsUpper(p[in + 2])) return std::nullopt;
  if (!IsUpper(p[0])) return std::nullopt;
  bool has_digit = false;
  for (size_t i = 1; i < in; ++i) has_digit |= IsDigit(p[i]);
  if (!has_digit) return std::nullopt;
  return p;
}

std::string PostcodeSector(std::string_view p) {
  if (p.size() < 5) return std::string(p);
  std::string s(p.substr(0, p.size() - 3));
  s.push_back(' ');
  s.push_back(p[p.size() - 3]);
  return s;
}

std::string PostcodeDistrict(std::string_view p) {
  if (p.size() < 5) return std::string(p);
  return std::string(p.substr(0, p.size() - 3));
}

int NhsCheckDigit(std::string_view nine) {
  if (nine.size() < 9) return -1;
  int sum = 0;
  for (size_t i = 0; i < 9; ++i) {
    if (!IsDigit(nine[i])) return -1;
    sum += (nine[i] - '0') * static_cast<int>(10 - i);
  }
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  return check == 10 ? -1 : check;
}

bool ValidNhsNumber(std::string_view d) {
  if (d.size() != 10) return false;
  for (char c : d) {
    if (!IsDigit(c)) return false;
  }
  if (std::all_of(d.begin(), d.end(), [&](char c) { return c == d[0]; })) return false;
  return NhsCheckDigit(d.substr(0, 9)) == d[9] - '0';
}

std::optional<std::string> CanonicalIdentifier(std::string_view kind, std::string_view value) {
  std::string v;
  for (char c : value) {
    if (c == ' ' || c == '-' || c == '\t') continue;
    v.push_back(ToUpper(c));
  }
  if (kind == "nhs_number") {
    if (!ValidNhsNumber(v)) return std::nullopt;
    return v;
  }
  if (kind == "pnc_id") {
    const size_t slash = v.find('/');
    if (slash != 2 && slash != 4) return std::nullopt;
    if (v.size() < slash + 3) return std::nullopt;
    const std::string_view year(v.data(), slash);
    const std::string_view serial(v.data() + slash + 1, v.size() - slash - 2);
    const char letter = v.back();
    if (serial.empty() || serial.size() > 7 || !IsUpper(letter)) return std::nullopt;
    for (char c : year) {
      if (!IsDigit(c)) return std::nullopt;
    }
    for (char c : serial) {
      if (!IsDigit(c)) return std::nullopt;
    }
    return std::string(year) + "/" + std::string(7 - serial.size(), '0') + std::string(serial) +
           letter;
  }
  if (kind == "upn") {
    if (v.size() != 13 || !IsUpper(v[0])) return std::nullopt;
    for (size_t i = 1; i < 13; ++i) {
      if (!IsDigit(v[i])) return std::nullopt;
    }
    return v;
  }
  if (kind == "ni_number") {
    if (v.size() == 9) {
      if (v[8] < 'A' || v[8] > 'D') return std::nullopt;
      v.pop_back();
    }
    if (v.size() != 8 || !IsUpper(v[0]) || !IsUpper(v[1])) return std::nullopt;
    for (size_t i = 2; i < 8; ++i) {
      if (!IsDigit(v[i])) return std::nullopt;
    }
    if (std::string_view("DFIQUV").find(v[0]) != std::string_view::npos) return std::nullopt;
    if (std::string_view("DFIOQUV").find(v[1]) != std::string_view::npos) return std::nullopt;
    const std::string_view prefix(v.data(), 2);
    for (std::string_view bad : {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}) {
      if (prefix == bad) return std::nullopt;
    }
    return v;
  }
  return std::nullopt;
}

}  // namespace mash::agent
