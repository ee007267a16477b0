// The built-in record store (record_store.h), `mash-agent import` (record_import.h) and the
// lookup worker (lookup_worker.h): a real SQLCipher database in a temporary folder, files
// written at test time, the real matcher and the real Responder.
#include "mash/agent/record_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "agent_test_util.h"
#include "mash/agent/lookup_worker.h"
#include "mash/agent/names.h"
#include "mash/agent/record_import.h"
#include "mash/crypto/keys.h"

namespace mash::agent::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Nine digits and their Modulus 11 check digit.
std::string Nhs(const std::string& nine) { return nine + std::to_string(NhsCheckDigit(nine)); }

const std::string kHeader =
    "record_id,given_names,family_name,aliases,dob,sex,postcodes,nhs_number,pnc_id,upn,"
    "ni_number\n";

class RecordStoreTest : public AgentTest {
 protected:
  void SetUp() override {
    AgentTest::SetUp();
    ASSERT_TRUE(crypto::WriteKeyFile(keys_ / "records.key", crypto::KeyKind::kDatabaseKey,
                                     crypto::GenerateSymmetricKey().span())
                    .ok());
  }

  std::unique_ptr<storage::Database> Db() {
    auto db = storage::Database::Open({dir_ / "records.db", keys_ / "records.key"});
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  // Writes `people` (and `records`) and imports them.
  Result<ImportReport> Import(const std::string& people, const std::string& records = "",
                              const ImportMapping& mapping = {}, bool replace = false) {
    ImportOptions o;
    o.replace = replace;
    const std::string ext = mapping.format == ImportFormat::kCsv ? ".csv" : ".json";
    if (!people.empty()) {
      o.people = dir_ / ("people" + ext);
      WriteFile(*o.people, people);
    }
    if (!records.empty()) {
      o.records = dir_ / ("records" + ext);
      WriteFile(*o.records, records);
    }
    auto db = Db();
    if (!db) return Internal("no database");
    return ImportRecords(*db, mapping, o);
  }

  std::unique_ptr<RecordStore> Store() {
    RecordStoreOptions o;
    o.file = dir_ / "records.db";
    o.key_file = keys_ / "records.key";
    o.source = "Test RMS";
    auto s = RecordStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  int64_t Count(const std::string& table) {
    auto db = Db();
    auto st = db->Prepare("SELECT count(*) FROM " + table);
    EXPECT_TRUE(st.ok());
    EXPECT_TRUE(*st->Step());
    return st->ColumnInt(0);
  }

  AgentConfig StoreConfig() {
    AgentConfig c = Config();
    c.records_fixture.clear();
    c.records_store = dir_ / "records.db";
    c.records_store_key = keys_ / "records.key";
    c.records_source = "Test RMS";
    return c;
  }

  crypto::SealedEnvelope QueryFor(const schemas::QueryBody& body) {
    crypto::EnvelopeHeader h = HubHeader("query", random_.Hex(16));
    h.purpose = "child-protection-s47";
    h.lawful_basis = "uk-gdpr-6-1-e";
    h.consent = "given";
    h.urgency = "amber";
    const std::string text = body.ToJson().dump();
    auto sealed = crypto::Seal(h, common::AsBytes(text), *hub_sign_, police_enc_pub_, random_);
    EXPECT_TRUE(sealed.ok());
    return *sealed;
  }

  static schemas::QueryBody Body(const schemas::Person& subject, int level) {
    schemas::QueryBody q;
    q.query_id = std::string(32, 'a');
    q.level = level;
    q.subject = subject;
    return q;
  }
};

schemas::Person Person(std::string given, std::string family, std::string dob, std::string sex,
                       std::vector<std::string> postcodes = {},
                       std::map<std::string, std::string> ids = {}) {
  schemas::Person p;
  p.given_names = std::move(given);
  p.family_name = std::move(family);
  p.dob = std::move(dob);
  p.sex = std::move(sex);
  p.postcodes = std::move(postcodes);
  p.identifiers = std::move(ids);
  return p;
}

// The people of most tests: Amelia Garbrook (NHS number, two category records), and two
// different John Smiths with the same date of birth.
const std::string kPeople =
    kHeader + "police/1,Amelia Rose,Garbrook,Amy Jones,2014-03-09,female,LS6 2AB;LS6 3CD," +
    "9434765919,,,\n" + "police/2,John,Smith,,1990-05-05,male,M1 1AA," + Nhs("401023213") +
    ",,,\n" + "police/3,John,Smith,,1990-05-05,male,LS1 4DY,,19/123456X,,AB123456C\n";
const std::string kRecords =
    "record_id,category,date,summary,risk,officer\n"
    "police/1,domestic_abuse,2026-06-02,Domestic incident at the home address.,standard,PC 1\n"
    "police/1,domestic_abuse,2026-10-30,\"Second incident, child present.\",medium,PC 2\n"
    "police/3,arrests,2025-04-11,Arrested for assault.,,\n";

// --- Opening ---

TEST_F(RecordStoreTest, OpenWithTheWrongKeyFails) {
  ASSERT_TRUE(Import(kPeople).ok());
  ASSERT_TRUE(crypto::WriteKeyFile(keys_ / "other.key", crypto::KeyKind::kDatabaseKey,
                                   crypto::GenerateSymmetricKey().span())
                  .ok());
  RecordStoreOptions o;
  o.file = dir_ / "records.db";
  o.key_file = keys_ / "other.key";
  auto s = RecordStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnauthenticated);
  // And a store that does not exist is not created by the agent.
  o.file = dir_ / "missing.db";
  o.key_file = keys_ / "records.key";
  EXPECT_EQ(RecordStore::Open(o).status().code(), StatusCode::kNotFound);
}

// --- Import ---

TEST_F(RecordStoreTest, ImportsCsvWithTheDefaultMapping) {
  auto report = Import(kPeople, kRecords);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->people, 3u);
  EXPECT_EQ(report->records, 3u);
  EXPECT_EQ(report->bad_row_count, 0u);
  EXPECT_EQ(report->warnings, 0u);
  auto store = Store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->size(), 3u);
}

TEST_F(RecordStoreTest, ImportsAnAgencyExportWithAMapping) {
  ImportMapping m;
  m.people.record_id = "Person ID";
  m.people.given_names = "Forenames";
  m.people.family_name = "Surname";
  m.people.aliases = "Also Known As";
  m.people.alias_separator = "|";
  m.people.dob = "Date of Birth";
  m.people.dob_format = DateFormat::kDayMonthYear;
  m.people.sex = "Gender";
  m.people.sex_values = {{"1", "male"}, {"2", "female"}};
  m.people.postcodes = "Postcode";
  m.people.nhs_number = "NHS No";
  m.people.pnc_id = "";
  m.people.upn = "";
  m.people.ni_number = "";
  m.records.record_id = "Person ID";
  m.records.category = "Type";
  m.records.category_values = {{"DA", "domestic_abuse"}};
  m.records.date = "Date";
  m.records.date_format = DateFormat::kDayMonthYear;
  m.records.summary = "Notes";
  // CRLF, quoted fields with commas, quotes and a line break, a BOM, an unmapped column.
  const std::string people =
      "\xef\xbb\xbfPerson ID,Surname,Forenames,Also Known As,Date of Birth,Gender,Postcode,"
      "NHS No,Ward\r\n"
      "P-77,\"O'Brien, Jr\",Sean,Shaun OBrien|Sean Bryan,9/3/2014,1,\"LS6 2AB\",943 476 5919,"
      "\"North\r\nside\"\r\n"
      "P-78,Garbrook,Amelia,,31/12/2015,2,LS6 2AB,,\"said \"\"hi\"\"\"\r\n";
  const std::string records =
      "Person ID,Type,Date,Notes,Risk\r\n"
      "P-77,DA,02/06/2026,\"Incident, child present\",high\r\n";
  auto report = Import(people, records, m);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->people, 2u);
  EXPECT_EQ(report->records, 1u);
  EXPECT_EQ(report->bad_row_count, 0u);
  auto store = Store();
  ASSERT_TRUE(store);
  auto q = Body(Person("Sean", "O'Brien", "2014-03-09", "male"), 2);
  q.subject.identifiers["nhs_number"] = "9434765919";
  auto found = store->Find(q, {});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].match, "confirmed");
  const auto& da = (*found)[0].record.categories.at("domestic_abuse");
  EXPECT_EQ(da.latest, "2026-06-02");
  EXPECT_EQ(da.summary, "Incident, child present");
  ASSERT_EQ(da.records.size(), 1u);
  EXPECT_EQ(da.records[0]["Risk"], "high");
  EXPECT_EQ(da.records[0]["date"], "2026-06-02");
  // The alias, the date format and the sex map were applied.
  auto by_alias = store->Lookup(Person("Shaun", "OBrien", "2014-03-09", "male", {"LS6 2AB"}));
  ASSERT_FALSE(by_alias.empty());
  EXPECT_EQ(by_alias[0].band, MatchBand::kConfirmed);
}

TEST_F(RecordStoreTest, ImportsJsonArraysAndJsonLines) {
  ImportMapping m;
  m.format = ImportFormat::kJson;
  const std::string people = R"([
  {"record_id": "h/1", "given_names": "Amelia", "family_name": "Garbrook",
   "aliases": ["Amy Jones"], "dob": "2014-03-09", "sex": "female",
   "postcodes": ["LS6 2AB"], "nhs_number": "9434765919"},
  {"record_id": "h/2", "given_names": "Noah", "family_name": "Pell", "dob": "2012-01-02",
   "sex": "male", "postcodes": "LS6 3CD;LS6 4EF", "nhs_number": 4010232137}
])";
  const std::string records =
      R"({"record_id": "h/1", "category": "health_visits", "date": "2026-01-01", "summary": "Seen.", "clinic": "North", "urgent": true})"
      "\n\n"
      R"({"record_id": "h/2", "category": "health_visits", "date": "2026-02-01", "summary": "Seen too."})"
      "\n";
  auto report = Import(people, records, m);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->people, 2u);
  EXPECT_EQ(report->records, 2u);
  EXPECT_EQ(report->bad_row_count, 0u);
  auto store = Store();
  ASSERT_TRUE(store);
  auto q = Body(Person("", "", "", "", {}, {{"nhs_number", "9434765919"}}), 2);
  auto found = store->Find(q, {});
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  const auto& hv = (*found)[0].record.categories.at("health_visits");
  EXPECT_EQ(hv.records[0]["clinic"], "North");
  EXPECT_EQ(hv.records[0]["urgent"], true);
}

TEST_F(RecordStoreTest, BadCsvRowsAreReportedByLineAndTheRestImported) {
  const std::string people = kHeader +                                       // line 1
                             "a/1,Ann,Able,,2001-01-01,female,,,,,\n" +      // 2 good
                             "a/2,\"Bob\"x,Baker,,2001-01-01,male,,,,,\n" +  // 3 bad quoting
                             "a/3,Cat,Cole,,2001-01-01\n" +                  // 4 column count
                             "a/4,Dan,Dale,,31/01/2001,male,,,,,\n" +        // 5 bad date
                             "a/5,Eve,\"Evans\nSmith\",,2001-01-01,female,,,,,\n" +  // 6-7 newline
                             std::string("a/6,F\0d,Fox,,,,,,,,\n", 20) +             // 8 NUL byte
                             "a/7,Gus,Gray,,2001-01-01,male,,,,,\n" +                // 9 good
                             ",Hal,Hill,,,,,,,,\n" +                                 // 10 no id
                             "a/1,Ann,Again,,,,,,,,\n" +                             // 11 duplicate
                             ",,,,,,,,,,\n" +                                        // 12 nothing
                             "a/8,\xff\xfe,Ivy,,,,,,,,\n" +                          // 13 not UTF-8
                             "a/9,Jo,\"Jones\",,2001-01-01,female,,,,,\n" +          // 14 good
                             "a/10,\"Kim,Kay,,,,,,,,,\n";  // 15 unterminated
  LogCapture logs;
  auto report = Import(people);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->people, 3u);
  ASSERT_EQ(report->bad_row_count, 10u);
  std::vector<size_t> lines;
  for (const auto& p : report->bad_rows) {
    lines.push_back(p.line);
    EXPECT_EQ(p.file, "people");
    // Never the row's contents.
    for (const char* secret : {"Bob", "Cat", "Dan", "Evans", "Hal", "Again", "Ivy", "Kim"}) {
      EXPECT_THAT(p.reason, Not(HasSubstr(secret)));
    }
  }
  EXPECT_THAT(lines, ElementsAre(3, 4, 5, 6, 8, 10, 11, 12, 13, 15));
  EXPECT_THAT(report->bad_rows[0].reason, HasSubstr("after a closing quote"));
  EXPECT_THAT(report->bad_rows[1].reason, HasSubstr("5 fields, the header has 11"));
  EXPECT_THAT(report->bad_rows[2].reason, HasSubstr("dob is not a date"));
  EXPECT_THAT(report->bad_rows[3].reason, HasSubstr("control characters"));
  EXPECT_THAT(report->bad_rows[4].reason, HasSubstr("NUL"));
  EXPECT_THAT(report->bad_rows[5].reason, HasSubstr("no record_id"));
  EXPECT_THAT(report->bad_rows[6].reason, HasSubstr("already in the store"));
  EXPECT_THAT(report->bad_rows[8].reason, HasSubstr("UTF-8"));
  EXPECT_THAT(report->bad_rows[9].reason, HasSubstr("unterminated"));
  EXPECT_EQ(Count("persons"), 3);
  EXPECT_THAT(logs.Text(), Not(HasSubstr("Bob")));
}

TEST(ImportTextTest, DropInvalidUtf8KeepsWholeCharactersOnly) {
  EXPECT_EQ(DropInvalidUtf8("Zo\xc3\xab"), "Zo\xc3\xab");
  EXPECT_EQ(DropInvalidUtf8("Zo\xab\xc3"), "Zo");  // a typo split the character
  EXPECT_EQ(DropInvalidUtf8(std::string("a\0b\xff", 4)), "ab");
  EXPECT_EQ(DropInvalidUtf8("\xed\xa0\x80x"), "x");  // a UTF-16 surrogate
}

TEST(ImportDateTest, ParsesBothFormatsAndOnlyRealDates) {
  EXPECT_EQ(ParseImportDate("2014-03-09", DateFormat::kIso), "2014-03-09");
  EXPECT_EQ(ParseImportDate("09/03/2014", DateFormat::kDayMonthYear), "2014-03-09");
  EXPECT_EQ(ParseImportDate("9/3/2014", DateFormat::kDayMonthYear), "2014-03-09");
  for (const char* bad : {"2001-02-30", "2014-3-9", "09/03/2014", "", "1870-01-01"}) {
    EXPECT_EQ(ParseImportDate(bad, DateFormat::kIso), std::nullopt) << bad;
  }
  for (const char* bad :
       {"30/02/2001", "2014-03-09", "09/03/14", "1/2/3/2014", "aa/bb/cccc", "009/03/2014"}) {
    EXPECT_EQ(ParseImportDate(bad, DateFormat::kDayMonthYear), std::nullopt) << bad;
  }
}

TEST_F(RecordStoreTest, BadJsonRowsAreReportedByLine) {
  ImportMapping m;
  m.format = ImportFormat::kJson;
  const std::string people =
      "[\n"
      "  {\"record_id\": \"j/1\", \"family_name\": \"Able\"},\n"    // line 2 good
      "  {\"record_id\": \"j/2\", \"family_name\": },\n"            // 3 not JSON
      "  [1, 2],\n"                                                 // 4 not an object
      "  {\"record_id\": \"j/3\", \"family_name\": {\"x\": 1}},\n"  // 5 not a string
      "  {\"record_id\": \"j/4\",\n"
      "   \"family_name\": \"Cole\", \"dob\": \"1/1/2001\"},\n"  // 6 bad date
      "  {\"record_id\": \"j/5\", \"family_name\": \"Dale\"}\n"  // 8 good
      "]\n";
  auto report = Import(people, "", m);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->people, 2u);
  std::vector<size_t> lines;
  for (const auto& p : report->bad_rows) lines.push_back(p.line);
  EXPECT_THAT(lines, ElementsAre(3, 4, 5, 6));

  // JSON lines: a broken line costs only itself.
  const std::string jsonl =
      "{\"record_id\": \"k/1\", \"family_name\": \"Able\"}\n"
      "{\"record_id\": \"k/2\", \"family_name\": \"Ba\n"
      "{\"record_id\": \"k/3\", \"family_name\": \"Cole\"}\n";
  auto lines_report = Import(jsonl, "", m);
  ASSERT_TRUE(lines_report.ok()) << lines_report.status().ToString();
  EXPECT_EQ(lines_report->people, 2u);
  ASSERT_EQ(lines_report->bad_row_count, 1u);
  EXPECT_EQ(lines_report->bad_rows[0].line, 2u);
}

TEST_F(RecordStoreTest, ProblemsWithAWholeFileImportNothing) {
  ASSERT_TRUE(Import(kPeople).ok());
  const auto fails = [&](const std::string& people, const std::string& records,
                         const std::string& says, ImportFormat format = ImportFormat::kCsv) {
    ImportMapping m;
    m.format = format;
    auto report = Import(people, records, m);
    ASSERT_FALSE(report.ok()) << says;
    EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument) << says;
    EXPECT_THAT(report.status().message(), HasSubstr(says));
    EXPECT_EQ(Count("persons"), 3) << says;  // rolled back
  };
  const std::string good = kHeader + "x/1,Ann,Able,,,,,,,,\n";
  fails("\n\n", "", "empty file");
  fails("record,given\nx/1,Ann\n", "", "no column 'record_id'");
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919 + 13) % 256));
  fails(garbage, "", "people: ");
  fails(good, "record_id,summary\nx/1,hi\n", "no column 'category'");
  fails("", "", "", ImportFormat::kCsv);  // nothing given at all
  fails("", "", "", ImportFormat::kJson);
  fails("\"just a string\"", "", "not a JSON array or JSON lines", ImportFormat::kJson);
  fails(garbage, "", "people: ", ImportFormat::kJson);
  // A missing file.
  auto db = Db();
  ImportOptions o;
  o.people = dir_ / "no-such.csv";
  EXPECT_EQ(ImportRecords(*db, {}, o).status().code(), StatusCode::kNotFound);
}

TEST_F(RecordStoreTest, InvalidIdentifiersAreLeftOutWithAWarning) {
  const std::string people = kHeader +
                             "w/1,Ann,Able,,2001-01-01,female,NOT A POSTCODE,9434765918,"
                             "19/ABC,Z12,QQ123456A\n";  // wrong check digit, bad formats
  auto report = Import(people);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->people, 1u);
  EXPECT_EQ(report->warnings, 5u);
  auto db = Db();
  auto st = db->Prepare(
      "SELECT nhs_number IS NULL AND pnc_id IS NULL AND upn IS NULL AND ni_number IS NULL, "
      "postcodes FROM persons");
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt(0), 1);
  EXPECT_EQ(st->ColumnText(1), "");
  // The invalid NHS number matches nothing.
  auto store = Store();
  auto found = store->Find(Body(Person("", "", "", "", {}, {{"nhs_number", "9434765918"}}), 1), {});
  ASSERT_TRUE(found.ok());
  EXPECT_THAT(*found, IsEmpty());
}

TEST_F(RecordStoreTest, BadCategoryRowsAndReplace) {
  const std::string records =
      "record_id,category,date,summary\n"
      "police/1,domestic_abuse,2026-01-01,ok\n"
      "police/99,domestic_abuse,2026-01-01,unknown person\n"
      "police/1,Domestic Abuse,2026-01-01,not a category name\n"
      "police/1,arrests,01/02/2026,wrong date format\n";
  auto report = Import(kPeople, records);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->records, 1u);
  ASSERT_EQ(report->bad_row_count, 3u);
  EXPECT_EQ(report->bad_rows[0].file, "records");
  EXPECT_EQ(report->bad_rows[0].line, 3u);
  EXPECT_THAT(report->bad_rows[0].reason, HasSubstr("no person"));
  EXPECT_THAT(report->bad_rows[1].reason, HasSubstr("not a category name"));
  EXPECT_THAT(report->bad_rows[2].reason, HasSubstr("date is not a date"));

  // Importing again duplicates every person; --replace starts afresh.
  auto again = Import(kPeople);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->people, 0u);
  EXPECT_EQ(again->bad_row_count, 3u);
  auto replaced = Import(kHeader + "n/1,New,Person,,,,,,,,\n", "", {}, /*replace=*/true);
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->people, 1u);
  EXPECT_EQ(Count("persons"), 1);
  EXPECT_EQ(Count("category_records"), 0);
}

// --- Matching ---

TEST_F(RecordStoreTest, FindsAConfirmedMatchByNhsNumber) {
  ASSERT_TRUE(Import(kPeople, kRecords).ok());
  auto store = Store();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->source(), "Test RMS");
  auto found =
      store->Find(Body(Person("", "", "", "", {}, {{"nhs_number", "943 476 5919"}}), 2), {});
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_EQ(found->size(), 1u);
  const SourceMatch& m = (*found)[0];
  EXPECT_EQ(m.match, "confirmed");
  EXPECT_THAT(m.matched_on, ElementsAre("nhs_number"));
  EXPECT_EQ(m.record.identifiers.at("nhs_number"), "9434765919");
  const auto& da = m.record.categories.at("domestic_abuse");
  EXPECT_EQ(da.latest, "2026-10-30");
  ASSERT_EQ(da.records.size(), 2u);
  EXPECT_EQ(da.records[0]["date"], "2026-10-30");  // newest first
  EXPECT_EQ(da.records[0]["risk"], "medium");
  EXPECT_EQ(da.summary, "Second incident, child present.; Domestic incident at the home address.");
  EXPECT_EQ(m.record.categories.count("arrests"), 0u);  // police/3's
}

TEST_F(RecordStoreTest, FindsAConfirmedMatchOnDemographicsAlone) {
  ASSERT_TRUE(Import(kPeople, kRecords).ok());
  auto store = Store();
  // Nickname, alias-free, no identifier: name, dob, sex and postcode agree.
  auto found =
      store->Find(Body(Person("Amelia", "Garbrook", "2014-03-09", "female", {"LS6 2AB"}), 2), {});
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].match, "confirmed");
  EXPECT_THAT((*found)[0].matched_on,
              ::testing::IsSupersetOf({"family_name", "given_name", "dob"}));
  EXPECT_EQ((*found)[0].record.categories.count("domestic_abuse"), 1u);
  // A different person entirely: nothing.
  auto none = store->Find(Body(Person("Zed", "Quorn", "1950-07-07", "male", {"TR1 1AA"}), 2), {});
  ASSERT_TRUE(none.ok());
  EXPECT_THAT(*none, IsEmpty());
}

TEST_F(RecordStoreTest, SameNameAndDobButADifferentPersonIsNotConfirmed) {
  ASSERT_TRUE(Import(kPeople, kRecords).ok());
  auto store = Store();
  // police/2 and police/3 are two John Smiths born the same day. A query with police/2's NHS
  // number conflicts with police/3's... no: police/3 has no NHS number; a third John Smith with a
  // different valid NHS number and another address is neither.
  auto q = Body(Person("John", "Smith", "1990-05-05", "male", {"BS1 5TR"},
                       {{"nhs_number", Nhs("123456782")}}),
                2);
  auto found = store->Find(q, {});
  ASSERT_TRUE(found.ok());
  for (const auto& m : *found) EXPECT_NE(m.match, "confirmed");
  // Without an identifier and at another address: at most possible, never confirmed.
  auto plain = store->Find(Body(Person("John", "Smith", "1990-05-05", "male", {"BS1 5TR"}), 2), {});
  ASSERT_TRUE(plain.ok());
  for (const auto& m : *plain) EXPECT_NE(m.match, "confirmed");
  // police/2's own NHS number confirms police/2 only, not the other John Smith.
  auto own = store->Find(Body(Person("John", "Smith", "1990-05-05", "male", {"M1 1AA"},
                                     {{"nhs_number", Nhs("401023213")}}),
                              2),
                         {});
  ASSERT_TRUE(own.ok());
  ASSERT_EQ(own->size(), 1u);
  EXPECT_EQ((*own)[0].record.identifiers.at("nhs_number"), Nhs("401023213"));
}

TEST_F(RecordStoreTest, HouseholdMembersAreMatched) {
  ASSERT_TRUE(Import(kPeople, kRecords).ok());
  auto store = Store();
  auto q = Body(Person("", "", "", "", {}, {{"nhs_number", "9434765919"}}), 2);
  q.household.push_back(
      Person("John", "Smith", "1990-05-05", "male", {"LS1 4DY"}, {{"pnc_id", "19/123456X"}}));
  q.household.push_back(Person("Zed", "Quorn", "1950-07-07", "male", {"TR1 1AA"}));
  auto h = store->FindHousehold(q, {});
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(h->has_value());
  ASSERT_EQ((*h)->size(), 2u);
  EXPECT_EQ((**h)[0].index, 0u);
  EXPECT_EQ((**h)[0].match, "confirmed");
  EXPECT_THAT((**h)[0].matched_on, ::testing::Contains("pnc_id"));
  EXPECT_EQ((**h)[1].match, "none");
  EXPECT_THAT((**h)[1].matched_on, IsEmpty());
}

// --- Through the Responder ---

TEST_F(RecordStoreTest, ResponderAnswersFromTheStoreWithHousehold) {
  ASSERT_TRUE(Import(kPeople, kRecords).ok());
  auto r = MakeResponder(StoreConfig());
  ASSERT_TRUE(r);
  auto q = Body(Person("Amelia", "Garbrook", "2014-03-09", "female", {"LS6 2AB"},
                       {{"nhs_number", "9434765919"}}),
                2);
  q.household.push_back(
      Person("John", "Smith", "1990-05-05", "male", {"LS1 4DY"}, {{"pnc_id", "19/123456X"}}));
  q.household.push_back(Person("Zed", "Quorn", "1950-07-07", "male", {"TR1 1AA"}));
  auto frame = r->Answer(QueryFor(q));
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const auto a = OpenAnswer(*frame);
  EXPECT_EQ(a.body.source, "Test RMS");
  EXPECT_TRUE(a.body.held);
  EXPECT_EQ(a.body.match, "confirmed");
  EXPECT_THAT(a.body.matched_on, ::testing::Contains("nhs_number"));
  const auto* da = Find(a.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->outcome, "redacted");  // the police policy redacts names in safeguarding-core
  EXPECT_EQ(da->latest, "2026-10-30");
  ASSERT_EQ(a.body.household.size(), 2u);
  EXPECT_EQ(a.body.household[0].index, 0);
  EXPECT_TRUE(a.body.household[0].held);
  EXPECT_EQ(a.body.household[0].match, "confirmed");
  EXPECT_FALSE(a.body.household[1].held);
  EXPECT_EQ(a.body.household[1].match, "none");
  // No household asked: no household array.
  auto plain = r->Answer(QueryFor(Body(q.subject, 2)));
  ASSERT_TRUE(plain.ok());
  EXPECT_THAT(OpenAnswer(*plain).body.household, IsEmpty());
}

TEST_F(RecordStoreTest, PossibleMatchGoesToReviewAndIsNeverReleased) {
  ASSERT_TRUE(Import(kPeople, kRecords).ok());
  auto r = MakeResponder(StoreConfig());
  ASSERT_TRUE(r);
  // Amelia Garbrook with a typo in the family name, the day and month swapped and no address:
  // enough to be possible, not confirmed.
  auto q = Body(Person("Amelia", "Garbrok", "2014-09-03", "", {}), 2);
  auto direct = r->FindRecords({{}, q, {}});
  ASSERT_TRUE(direct.ok());
  ASSERT_EQ(direct->matches.size(), 1u);
  ASSERT_EQ(direct->matches[0].match, "possible");
  auto frame = r->Answer(QueryFor(q));
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const auto a = OpenAnswer(*frame);
  EXPECT_TRUE(a.body.held);
  EXPECT_EQ(a.body.match, "possible");
  const auto* da = Find(a.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->outcome, "review");
  EXPECT_TRUE(da->summary.empty());
  EXPECT_TRUE(da->records.empty());
  EXPECT_THAT(da->reason, HasSubstr("possible match"));
}

TEST_F(RecordStoreTest, TwoConfirmedRecordsAreAmbiguousAndGoToReview) {
  // The same NHS number keyed onto two records (a duplicate in the agency's system).
  const std::string people = kHeader +
                             "d/1,Amelia,Garbrook,,2014-03-09,female,LS6 2AB,9434765919,,,\n" +
                             "d/2,Amelia,Garbrook,,2014-03-09,female,LS6 2AB,9434765919,,,\n";
  const std::string records =
      "record_id,category,date,summary\n"
      "d/1,domestic_abuse,2026-01-01,One.\n"
      "d/2,domestic_abuse,2026-02-01,Two.\n";
  ASSERT_TRUE(Import(people, records).ok());
  auto r = MakeResponder(StoreConfig());
  ASSERT_TRUE(r);
  auto frame =
      r->Answer(QueryFor(Body(Person("", "", "", "", {}, {{"nhs_number", "9434765919"}}), 2)));
  ASSERT_TRUE(frame.ok());
  const auto a = OpenAnswer(*frame);
  EXPECT_EQ(a.body.match, "possible");
  const auto* da = Find(a.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->outcome, "review");
  EXPECT_TRUE(da->summary.empty());
}

TEST_F(RecordStoreTest, ConfigChoosesTheStore) {
  ASSERT_TRUE(Import(kPeople).ok());
  auto source = OpenRecordSource(StoreConfig());
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_NE(dynamic_cast<RecordStore*>(source->get()), nullptr);
  AgentConfig c = StoreConfig();
  c.records_source.clear();
  EXPECT_EQ((*OpenRecordSource(c))->source(), "Northshire Police record store");
  c.records_store_key = keys_ / "police.db.key";  // another key
  EXPECT_EQ(OpenRecordSource(c).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(RecordStoreTest, ConfigReadsTheStoreAndTheImportMapping) {
  const auto path = dir_ / "agent.toml";
  WriteFile(path, AgentTomlHead() + R"(
[policy]
file = "police-disclosure.toml"

[audit]
log_public_key = "keys/hub.audit.pub"

[records]
store = "records.db"
store_key = "keys/records.key"
source = "Northshire RMS"

[records.import]
format = "json"

[records.import.people]
record_id = "Person ID"
dob = "DOB"
dob_format = "DD/MM/YYYY"
sex = "Gender"
sex_values = { "1" = "male", "2" = "female", "9" = "unknown" }
upn = ""

[records.import.records]
record_id = "Person ID"
category = "Type"
category_values = { DA = "domestic_abuse" }
date_format = "DD/MM/YYYY"
)");
  auto c = LoadAgentConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->records_store, dir_.path() / "records.db");
  EXPECT_EQ(c->records_store_key, dir_.path() / "keys/records.key");
  EXPECT_EQ(c->records_source, "Northshire RMS");
  EXPECT_EQ(c->records_import.format, ImportFormat::kJson);
  EXPECT_EQ(c->records_import.people.record_id, "Person ID");
  EXPECT_EQ(c->records_import.people.dob_format, DateFormat::kDayMonthYear);
  EXPECT_EQ(c->records_import.people.sex_values.at("2"), "female");
  EXPECT_EQ(c->records_import.people.upn, "");
  EXPECT_EQ(c->records_import.people.family_name, "family_name");  // default
  EXPECT_EQ(c->records_import.records.category_values.at("DA"), "domestic_abuse");

  const auto fails = [&](const std::string& records, const std::string& says) {
    WriteFile(path,
              AgentTomlHead() +
                  "[policy]\nfile = \"p.toml\"\n[audit]\nlog_public_key = \"k\"\n[records]\n" +
                  records);
    auto bad = LoadAgentConfig(path);
    ASSERT_FALSE(bad.ok()) << records;
    EXPECT_THAT(bad.status().message(), HasSubstr(says)) << records;
  };
  fails("store = \"r.db\"\nfixture = \"p.json\"\nstore_key = \"k\"\n", "exactly one of");
  fails("store = \"r.db\"\n", "records.store_key");
  fails("fixture = \"p.json\"\nstore_key = \"k\"\n", "needs records.store");
  fails("fixture = \"p.json\"\n[records.import]\nformat = \"xml\"\n", "csv or json");
  fails("fixture = \"p.json\"\n[records.import.people]\ndob_format = \"MM/DD/YYYY\"\n",
        "YYYY-MM-DD or DD/MM/YYYY");
  fails("fixture = \"p.json\"\n[records.import.people]\nsex_values = { F = \"woman\" }\n",
        "female, male, other or unknown");
  fails("fixture = \"p.json\"\n[records.import.people]\nshoe_size = \"x\"\n", "shoe_size");
}

// --- The lookup worker ---

TEST(LookupWorkerTest, RunsJobsInOrderOffTheCallingThreadAndRefusesWhenFull) {
  LookupWorker worker(2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  std::thread::id job_thread;
  std::promise<void> started;
  ASSERT_TRUE(worker.Submit([&, released] {
    job_thread = std::this_thread::get_id();
    started.set_value();
    released.wait();
    ++ran;
  }));
  started.get_future().wait();
  EXPECT_NE(job_thread, std::this_thread::get_id());
  EXPECT_TRUE(worker.Submit([&] { EXPECT_EQ(ran.fetch_add(1), 1); }));
  EXPECT_TRUE(worker.Submit([&] { EXPECT_EQ(ran.fetch_add(1), 2); }));
  EXPECT_FALSE(worker.Submit([&] { ADD_FAILURE() << "ran a job over the limit"; }));
  EXPECT_EQ(worker.queued(), 2u);
  release.set_value();
  for (int i = 0; i < 500 && ran.load() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(ran.load(), 3);
  worker.Stop();
  EXPECT_FALSE(worker.Submit([] {}));
}

class SlowSourceTest : public RecordStoreTest {
 protected:
  std::filesystem::path SlowScript() {
    const auto path = dir_ / "slow.sh";
    WriteFile(path,
              "#!/bin/sh\ncat >/dev/null\nsleep 1\necho '{\"matches\": [{\"identifiers\": "
              "{\"nhs_number\": \"9434765919\"}, \"categories\": {\"domestic_abuse\": "
              "{\"summary\": \"Two incidents.\"}}}]}'\n");
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }
};

// A record source that takes a second does not hold the io thread: while one query's lookup runs
// on the worker, another query is opened and the hello built at once; both answers then arrive.
TEST_F(SlowSourceTest, ASlowLookupDoesNotBlockTheCallingThread) {
  AgentConfig c = Config();
  c.records_fixture.clear();
  c.records_command = {SlowScript().string()};
  c.records_command_timeout = std::chrono::milliseconds(4000);
  auto r = MakeResponder(c);
  ASSERT_TRUE(r);
  LookupWorker worker;
  auto first = r->OpenQuery(Query(2));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  std::promise<Result<Responder::Found>> first_found;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(worker.Submit([&] { first_found.set_value(r->FindRecords(*first)); }));
  // Meanwhile, on this ("io") thread:
  auto second = r->OpenQuery(Query(2));
  ASSERT_TRUE(second.ok());
  (void)r->MakeHello();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  std::promise<Result<Responder::Found>> second_found;
  ASSERT_TRUE(worker.Submit([&] { second_found.set_value(r->FindRecords(*second)); }));
  auto f1 = first_found.get_future().get();
  auto f2 = second_found.get_future().get();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1900));
  auto a1 = r->FinishAnswer(*first, std::move(f1));
  auto a2 = r->FinishAnswer(*second, std::move(f2));
  ASSERT_TRUE(a1.ok()) << a1.status().ToString();
  ASSERT_TRUE(a2.ok()) << a2.status().ToString();
  EXPECT_EQ(OpenAnswer(*a1).body.match, "confirmed");
  EXPECT_EQ(OpenAnswer(*a2).body.match, "confirmed");
  // A failed lookup is answered `unavailable`.
  auto third = r->OpenQuery(Query(2));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(r->FinishAnswer(*third, Unavailable("connector died")).status().code(),
            StatusCode::kUnavailable);
}

}  // namespace
}  // namespace mash::agent::testing
