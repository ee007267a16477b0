// Normalisation and comparison primitives for subject matching (DESIGN §10): names, nicknames,
// Jaro–Winkler, a phonetic code, dates of birth, postcodes and strong identifiers.
//
// Everything here is a pure function of its arguments: no I/O, no clock, no locale. Inputs are
// UTF-8; characters outside ASCII and Latin-1 are dropped from names.
//
// Phonetic code: NYSIIS (New York State Identification and Intelligence System, R. L. Taft,
// 1970), without the original six-character truncation. It was designed for surnames in
// criminal-justice records, it keeps vowel position (first letter kept, later vowels become 'A')
// so it separates more names than Soundex (which codes Robert/Rupert identically and drops
// everything after four characters), and it is about sixty lines with no tables, unlike Double
// Metaphone. It is a blocking key and a weak agreement level, never evidence on its own.
//
// Thread safety: all functions are safe from any thread (the nickname table is a constant built
// once on first use).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mash::agent {

// Lower case ASCII letters and single spaces: Latin-1 letters lose their diacritics ("Zoë" →
// "zoe", "Søren" → "soren", "ß" → "ss"), apostrophes and full stops vanish ("O'Brien" →
// "obrien"), hyphens, commas and other separators become one space ("Smith-Jones" →
// "smith jones"), anything else is dropped. "" when nothing is left.
std::string NormaliseName(std::string_view name);

// NormaliseName split on spaces.
std::vector<std::string> NameTokens(std::string_view name);

// Jaro–Winkler similarity in [0, 1] (prefix scale 0.1, prefix up to 4). 1 for two empty
// strings, 0 when exactly one is empty.
double JaroWinkler(std::string_view a, std::string_view b);

// True when one edit turns `a` into `b`: a substitution, an insertion, a deletion or two
// adjacent letters swapped (optimal string alignment distance 1). False when they are equal.
// The typos of keyed names are mostly of this kind; Jaro–Winkler misses many of them in short
// names ("Evans"/"Evbns" 0.89, "Noah"/"Nbah" 0.85) and in some transpositions.
bool WithinOneEdit(std::string_view a, std::string_view b);

// The NYSIIS code of a name's letters (upper case); "" when the name has no ASCII letters.
std::string Nysiis(std::string_view name);

// Nickname groups the given name (normalised, one token) belongs to, e.g. "bill" and "william"
// both belong to the William group; a name can be in several ("alex": Alexander, Alexandra).
// Empty when the name is in no group. Group numbers are stable within one build only.
const std::vector<uint16_t>& NicknameGroups(std::string_view normalised_given);
// True when the two normalised given names share a nickname group (and are not equal).
bool AreNicknames(std::string_view a, std::string_view b);
// True when `a` is one edit (WithinOneEdit) from a name that shares a nickname group with `b`,
// or the other way round: a mistyped familiar form ("Lim" for Liam, of William). Names shorter
// than three letters never count.
bool AreMistypedNicknames(std::string_view a, std::string_view b);
// The same with NicknameGroups of each name already looked up (the matcher keeps them).
bool AreMistypedNicknames(std::string_view a, const std::vector<uint16_t>& groups_a,
                          std::string_view b, const std::vector<uint16_t>& groups_b);
// The names of one nickname group, formal name first (the synthetic data generator uses it).
std::vector<std::string_view> NicknameGroupNames(uint16_t group);
// Number of (nickname, formal name) pairs in the built-in table.
size_t NicknamePairCount();

// Date of birth. Missing parts are 0.
struct Dob {
  int year = 0;
  int month = 0;
  int day = 0;
  bool known() const { return year != 0; }
};
// "YYYY-MM-DD" with a real calendar date from 1880 to 2199; nullopt otherwise.
std::optional<Dob> ParseDob(std::string_view text);

// UK postcode, upper case without spaces, e.g. "SW1A1AA"; nullopt unless it has the shape of
// an outward code (letter first, 2-4 characters) and an inward code (digit, two letters).
std::optional<std::string> NormalisePostcode(std::string_view text);
// "SW1A 1" (outward code and the inward code's digit) of a normalised postcode.
std::string PostcodeSector(std::string_view normalised);
// "SW1A" (outward code) of a normalised postcode.
std::string PostcodeDistrict(std::string_view normalised);

// Strong identifiers. Each returns the canonical form, or nullopt when the value is invalid (an
// invalid identifier is ignored by the matcher, never trusted):
//   nhs_number: 10 digits (spaces and hyphens allowed) whose Modulus 11 check digit is right
//               (weights 10..2 on the first nine digits; 11 - sum mod 11, 11 → 0, 10 never
//               issued); numbers of one repeated digit are refused.
//   pnc_id:     "YY/NNNNNNNL" or "YYYY/NNNNNNNL" (1-7 digit serial, a check letter); the serial
//               is zero-padded to 7 digits and the year kept as given. Format only: the check
//               letter is not verified.
//   upn:        a letter and 12 digits (DfE Unique Pupil Number). Format only.
//   ni_number:  two letters, six digits, optional suffix A-D, with HMRC's excluded prefixes
//               (first letter D F I Q U V, second D F I O Q U V, BG GB KN NK NT TN ZZ) refused;
//               the suffix is dropped.
// Unknown kinds: nullopt. (crypto::NormaliseIdentifier is a different, unvalidated form used for
// pseudonyms; the matcher compares only these canonical forms.)
std::optional<std::string> CanonicalIdentifier(std::string_view kind, std::string_view value);
bool ValidNhsNumber(std::string_view digits);
// The Modulus 11 check digit for nine digits, or -1 when the number cannot be issued (10).
int NhsCheckDigit(std::string_view nine_digits);

}  // namespace mash::agent
