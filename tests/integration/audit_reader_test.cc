// The broker's read side of its audit log (AuditReader), against a real broker's log: search by
// each filter and page on, one event with its inclusion proof, range verification (clean and
// with a tampered row), the streamed export (equal to ExportLog, verifiable offline, recorded
// first), the subject report, role refusals, the queue bound, and every read recorded.
#include "mash/broker/audit_reader.h"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <sstream>
#include <thread>

#include "harness.h"
#include "mash/audit/log.h"
#include "mash/audit/query.h"
#include "mash/audit/verify.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/pseudonym.h"

namespace mash::testing {
namespace {

using namespace std::chrono_literals;
using broker::AuditReader;

const broker::Staff kIg{"ian.ig", "ig_officer", "hub", ""};
const broker::Staff kDpo{"dora.dpo", "dpo", "hub", ""};
const broker::Staff kPractitioner{"test.practitioner", "practitioner", "hub", "mash"};

// Calls `fn(reader, done)` on the broker's thread and waits for `done`.
template <typename T>
Result<T> Call(TestHub& hub, AuditReader& reader,
               std::function<void(AuditReader&, AuditReader::Done<T>)> fn) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  boost::asio::post(hub.io(), [&reader, fn, promise] {
    fn(reader, [promise](Result<T> r) { promise->set_value(std::move(r)); });
  });
  return future.get();
}

class AuditReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<TestHub>();
    for (const std::string a : {"police", "health"}) hub_->StartAgent(a, Fixture(a));
    ASSERT_TRUE(hub_->WaitOnline("police", 10s));
    ASSERT_TRUE(hub_->WaitOnline("health", 10s));
    auto id = hub_->Raise(ConsentedCheck({"police", "health"}));
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    check_ = *id;
    WaitAnswered(check_);
    // A second subject, so that a subject search has something to leave out.
    broker::RaiseRequest other = ConsentedCheck({"police"});
    other.subject.given_names = "Noah";
    other.subject.family_name = "Smith";
    other.subject.dob = "2012-07-01";
    other.subject.identifiers = {{"nhs_number", "401 023 2137"}};
    auto id2 = hub_->Raise(other, "other.practitioner");
    ASSERT_TRUE(id2.ok());
    other_check_ = *id2;
    WaitAnswered(other_check_);
    // The check's result read by its practitioner: a view the subject report must show.
    auto shown = OnIo(hub_->io(), [&] {
      auto p = std::make_shared<std::promise<Result<nlohmann::json>>>();
      hub_->broker().checks().Show(check_, kPractitioner,
                                   [p](Result<nlohmann::json> r) { p->set_value(std::move(r)); });
      return p;
    });
    ASSERT_TRUE(shown->get_future().get().ok());
    subject_ = Reader().SubjectPseudonym("nhs_number", "943 476 5919").value();
  }

  void TearDown() override {
    if (own_reader_)
      OnIo(hub_->io(), [&] {
        own_reader_.reset();
        return 0;
      });
  }

  void WaitAnswered(const std::string& id) {
    const auto until = std::chrono::steady_clock::now() + 15s;
    while (PeekCheck(*hub_, id)["state"] == "dispatched" &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(PeekCheck(*hub_, id)["state"], "answered");
  }

  AuditReader& Reader() { return hub_->broker().audit_reader(); }

  // A reader of the hub's log with other options (small pages, chunks or queue).
  AuditReader& OwnReader(std::function<void(broker::AuditReaderOptions&)> tune) {
    broker::AuditReaderOptions o;
    o.database = {hub_->config().audit.database, hub_->config().audit.database_key};
    o.origin = hub_->config().hub_id;
    tune(o);
    auto key = crypto::LoadSigningKey(hub_->config().audit.checkpoint_key);
    auto pkey =
        crypto::ReadKeyFile(hub_->config().audit.pseudonym_key, crypto::KeyKind::kPseudonymKey);
    auto pseudonyms = crypto::Pseudonymiser::Create(std::move(pkey).value());
    auto r = AuditReader::Create(
        o, key->Public(), &hub_->broker().audit(),
        std::make_shared<const crypto::Pseudonymiser>(std::move(pseudonyms).value()),
        [this](std::function<void()> fn) { boost::asio::post(hub_->io(), std::move(fn)); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    own_reader_ = std::move(*r);
    return *own_reader_;
  }

  Result<broker::AuditSearchPage> Search(audit::QueryFilter f, AuditReader* reader = nullptr,
                                         const broker::Staff& staff = kIg) {
    return Call<broker::AuditSearchPage>(
        *hub_, reader ? *reader : Reader(),
        [f, staff](AuditReader& r, AuditReader::Done<broker::AuditSearchPage> done) {
          r.Search(staff, f, std::move(done));
        });
  }

  Result<broker::AuditVerifyResult> Verify(std::optional<uint64_t> first,
                                           std::optional<uint64_t> last) {
    return Call<broker::AuditVerifyResult>(
        *hub_, Reader(), [=](AuditReader& r, AuditReader::Done<broker::AuditVerifyResult> done) {
          r.Verify(kIg, first, last, std::move(done));
        });
  }

  std::unique_ptr<storage::Database> OpenAuditDb() {
    storage::DatabaseOptions o{hub_->config().audit.database, hub_->config().audit.database_key,
                               false};
    auto db = storage::Database::Open(o);
    EXPECT_TRUE(db.ok());
    return std::move(*db);
  }

  // The reads recorded for `user` whose detail starts with `prefix`.
  size_t Recorded(const std::string& user, const std::string& prefix,
                  audit::EventType type = audit::EventType::kResultViewed) {
    size_t n = 0;
    for (const auto& e : AuditEventsOf(*hub_)) {
      if (e.person == user && e.type == type && e.detail.starts_with(prefix)) ++n;
    }
    return n;
  }

  std::unique_ptr<TestHub> hub_;
  std::unique_ptr<AuditReader> own_reader_;
  std::string check_, other_check_, subject_;
};

TEST_F(AuditReaderTest, SearchesByEachFilterNewestFirst) {
  const auto all = AuditEventsOf(*hub_);
  ASSERT_GT(all.size(), 10u);
  const uint64_t end = all.back().seq;
  auto expect = [&](const audit::QueryFilter& f, std::function<bool(const audit::AuditEvent&)> keep,
                    const std::string& what) {
    auto page = Search(f);
    ASSERT_TRUE(page.ok()) << what << ": " << page.status().ToString();
    std::vector<uint64_t> got, want;
    for (const auto& e : page->events) {
      if (e.seq <= end) got.push_back(e.seq);  // later ones are this test's own reads
    }
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (keep(*it)) want.push_back(it->seq);
    }
    EXPECT_FALSE(want.empty()) << what;
    EXPECT_EQ(got, want) << what;
    EXPECT_FALSE(page->more) << what;
  };
  audit::QueryFilter f;
  f.subject = subject_;
  expect(
      f, [&](const audit::AuditEvent& e) { return e.check_ref == check_; }, "subject");
  f = {};
  f.person = "other.practitioner";
  expect(
      f, [](const audit::AuditEvent& e) { return e.person == "other.practitioner"; }, "person");
  f = {};
  f.agency = "health";
  expect(
      f, [](const audit::AuditEvent& e) { return e.agency == "health"; }, "agency");
  f = {};
  f.purpose = "child-protection-s47";
  expect(
      f, [](const audit::AuditEvent& e) { return e.purpose == "child-protection-s47"; }, "purpose");
  f = {};
  f.type = audit::EventType::kQuerySent;
  expect(
      f, [](const audit::AuditEvent& e) { return e.type == audit::EventType::kQuerySent; }, "type");
  f = {};
  f.outcome = audit::Outcome::kOk;
  f.agency = "police";
  expect(
      f,
      [](const audit::AuditEvent& e) {
        return e.outcome == audit::Outcome::kOk && e.agency == "police";
      },
      "outcome and agency");
  // A time window: from the second check's first event (inclusive) to just after the last.
  int64_t from = 0;
  for (const auto& e : all) {
    if (e.check_ref == other_check_) {
      from = e.time_ms;
      break;
    }
  }
  f = {};
  f.from_ms = from;
  f.to_ms = all.back().time_ms + 1;
  expect(
      f,
      [&](const audit::AuditEvent& e) {
        return e.time_ms >= from && e.time_ms <= all.back().time_ms;
      },
      "dates");
  // Each search is recorded (with the subject's pseudonym when it was by subject).
  EXPECT_EQ(Recorded(kIg.user, "audit: search by "), 7u);
  size_t about_subject = 0;
  for (const auto& e : AuditEventsOf(*hub_)) {
    if (!e.detail.starts_with("audit: search by subject;")) continue;
    EXPECT_EQ(e.subjects, std::vector<std::string>{subject_});
    ++about_subject;
  }
  EXPECT_EQ(about_subject, 1u);
}

TEST_F(AuditReaderTest, PagesOnWithBeforeSeq) {
  AuditReader& reader = OwnReader([](broker::AuditReaderOptions& o) { o.page_size = 3; });
  const auto all = AuditEventsOf(*hub_);
  audit::QueryFilter f;
  f.person = "test.practitioner";
  std::vector<uint64_t> want;
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->person == "test.practitioner") want.push_back(it->seq);
  }
  ASSERT_GT(want.size(), 3u);
  std::vector<uint64_t> got;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = Search(f, &reader);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_LE(page->events.size(), 3u);
    for (const auto& e : page->events) got.push_back(e.seq);
    if (!page->more) break;
    EXPECT_EQ(page->events.size(), 3u);
    f.before_seq = page->events.back().seq;
  }
  EXPECT_EQ(got, want);
}

TEST_F(AuditReaderTest, ShowsOneEventWithItsInclusionInTheNewestCheckpoint) {
  const auto events = AuditEventsOf(*hub_, check_);
  const auto raised = std::find_if(events.begin(), events.end(), [](const auto& e) {
    return e.type == audit::EventType::kCheckRaised;
  });
  ASSERT_NE(raised, events.end());
  ASSERT_TRUE(hub_->broker().audit().Checkpoint().ok());
  auto d = Call<broker::AuditEventDetail>(
      *hub_, Reader(),
      [seq = raised->seq](AuditReader& r, auto done) { r.Event(kDpo, seq, done); });
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->event, *raised);
  auto encoded = audit::EncodeEvent(*raised);
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(d->leaf_hash, audit::ToBytes(audit::HashLeaf(*encoded)));
  ASSERT_TRUE(d->checkpoint.has_value());
  EXPECT_GT(d->checkpoint->checkpoint.size, raised->seq);
  EXPECT_TRUE(d->inclusion_verified);
  EXPECT_EQ(Recorded(kDpo.user, "audit: event " + std::to_string(raised->seq)), 1u);

  auto missing = Call<broker::AuditEventDetail>(
      *hub_, Reader(), [](AuditReader& r, auto done) { r.Event(kIg, 1u << 30, done); });
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(AuditReaderTest, VerifiesARangeAndFindsATamperedRow) {
  const auto events = AuditEventsOf(*hub_, check_);
  const auto sent = std::find_if(events.begin(), events.end(), [](const auto& e) {
    return e.type == audit::EventType::kQuerySent;
  });
  ASSERT_NE(sent, events.end());
  const uint64_t seq = sent->seq;
  auto ok = Verify(seq - 2, seq + 3);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->report.ok) << ok->report.problem;
  EXPECT_EQ(ok->report.entries_checked, 6u);
  EXPECT_FALSE(ok->whole_log);
  auto whole = Verify(std::nullopt, std::nullopt);
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE(whole->whole_log);
  EXPECT_TRUE(whole->report.ok) << whole->report.problem;
  // To the end (clipped).
  auto to_end = Verify(seq, std::nullopt);
  ASSERT_TRUE(to_end.ok());
  EXPECT_TRUE(to_end->report.ok) << to_end->report.problem;
  EXPECT_EQ(to_end->last + 1, to_end->report.size);
  // Bad ranges.
  EXPECT_EQ(Verify(seq + 1, seq).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(1u << 30, std::nullopt).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Verify(0, audit::kMaxVerifyRange + 1000).status().code(), StatusCode::kOk);

  {
    // Someone with the database key rewrites who the query went to, leaf hash and all.
    auto db = OpenAuditDb();
    audit::AuditEvent forged = *sent;
    forged.agency = "housing";
    auto encoded = audit::EncodeEvent(forged);
    ASSERT_TRUE(encoded.ok());
    auto update =
        db->Prepare("UPDATE audit_events SET encoded = ?, leaf_hash = ?, agency = ? WHERE seq = ?");
    ASSERT_TRUE(update.ok());
    update->BindBlob(1, *encoded)
        .BindBlob(2, audit::ToBytes(audit::HashLeaf(*encoded)))
        .Bind(3, "housing")
        .Bind(4, static_cast<int64_t>(seq));
    ASSERT_TRUE(update->Run().ok());
  }
  auto bad = Verify(seq - 2, seq + 3);
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->report.ok);
  ASSERT_TRUE(bad->report.first_bad_seq.has_value());
  EXPECT_EQ(*bad->report.first_bad_seq, seq) << bad->report.problem;
  auto before = Verify(0, seq - 1);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->report.ok) << before->report.problem;
  auto whole_bad = Verify(std::nullopt, std::nullopt);
  ASSERT_TRUE(whole_bad.ok());
  EXPECT_FALSE(whole_bad->report.ok);
  EXPECT_EQ(whole_bad->report.first_bad_seq, std::optional<uint64_t>(seq))
      << whole_bad->report.problem;
  EXPECT_EQ(Recorded(kIg.user, "audit: verify "), 7u);  // the refused ranges are not reads
  EXPECT_EQ(Recorded(kIg.user, "audit: verify whole log failed"), 1u);
}

TEST_F(AuditReaderTest, RangeVerifyFindsAnEncodingChangedWithoutItsLeafHash) {
  const auto events = AuditEventsOf(*hub_, check_);
  const uint64_t seq = events.back().seq;
  {
    auto db = OpenAuditDb();
    audit::AuditEvent forged = events.back();
    forged.detail = "nothing happened";
    auto encoded = audit::EncodeEvent(forged);
    auto update = db->Prepare("UPDATE audit_events SET encoded = ? WHERE seq = ?");
    update->BindBlob(1, *encoded).Bind(2, static_cast<int64_t>(seq));
    ASSERT_TRUE(update->Run().ok());
  }
  auto bad = Verify(seq, seq);
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->report.ok);
  EXPECT_EQ(bad->report.first_bad_seq, std::optional<uint64_t>(seq));
  EXPECT_NE(bad->report.problem.find("leaf hash"), std::string::npos) << bad->report.problem;
}

TEST_F(AuditReaderTest, ExportStreamsInChunksRecordedFirstAndVerifiesOffline) {
  AuditReader& reader =
      OwnReader([](broker::AuditReaderOptions& o) { o.export_chunk_bytes = 1024; });
  auto count = Call<broker::AuditCount>(
      *hub_, reader, [](AuditReader& r, auto done) { r.Count(kIg, audit::QueryFilter{}, done); });
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->matching, AuditEventsOf(*hub_).size() - 1);  // the count's own record after
  EXPECT_EQ(count->log_entries, count->matching);
  auto stream = Call<std::shared_ptr<broker::ExportStream>>(
      *hub_, reader, [](AuditReader& r, auto done) { r.Export(kIg, done); });
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  std::shared_ptr<broker::ExportStream> s = *stream;
  std::string all;
  size_t chunks = 0;
  for (;;) {
    auto chunk = Call<std::optional<std::string>>(*hub_, reader,
                                                  [s](AuditReader&, auto done) { s->Next(done); });
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    if (!*chunk) break;
    ASSERT_FALSE((*chunk)->empty());
    ASSERT_EQ((*chunk)->back(), '\n');
    EXPECT_LT((*chunk)->size(), 1024u + audit::kMaxEventBytes * 2);
    all += **chunk;
    ++chunks;
  }
  EXPECT_GT(chunks, 5u);
  // Byte for byte what ExportLog writes of the same log.
  std::ostringstream whole;
  auto db = OpenAuditDb();
  auto n = audit::ExportLog(*db, whole);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(all, whole.str());
  // The export holds its own record, committed before it started.
  EXPECT_NE(all.find("\"seq\":" + std::to_string(s->recorded_seq()) + ","), std::string::npos);
  EXPECT_NE(all.find("full export via the console"), std::string::npos);
  // And verifies offline.
  auto key = crypto::LoadSigningKey(hub_->config().audit.checkpoint_key);
  std::istringstream in(all);
  auto report = audit::VerifyExport(in, key->Public(), {});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->size, *n);
  EXPECT_EQ(Recorded(kIg.user, "full export via the console", audit::EventType::kExported), 1u);
  EXPECT_EQ(Recorded(kIg.user, "audit: count by none"), 1u);
}

TEST_F(AuditReaderTest, ExportsAtOnceAreBounded) {
  AuditReader& reader = OwnReader([](broker::AuditReaderOptions& o) { o.max_exports = 1; });
  auto first = Call<std::shared_ptr<broker::ExportStream>>(
      *hub_, reader, [](AuditReader& r, auto done) { r.Export(kIg, done); });
  ASSERT_TRUE(first.ok());
  auto second = Call<std::shared_ptr<broker::ExportStream>>(
      *hub_, reader, [](AuditReader& r, auto done) { r.Export(kIg, done); });
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted);
  OnIo(hub_->io(), [&] {
    first->reset();  // the stream closed: its connection and slot are released
    return 0;
  });
  auto third = Call<std::shared_ptr<broker::ExportStream>>(
      *hub_, reader, [](AuditReader& r, auto done) { r.Export(kIg, done); });
  EXPECT_TRUE(third.ok()) << third.status().ToString();
  OnIo(hub_->io(), [&] {
    third->reset();
    return 0;
  });
}

TEST_F(AuditReaderTest, SubjectReportGroupsEverythingAboutTheSubjectByCheck) {
  auto report = Call<nlohmann::json>(
      *hub_, Reader(), [this](AuditReader& r, auto done) { r.SubjectReport(kIg, subject_, done); });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const nlohmann::json& j = *report;
  EXPECT_EQ(j["subject"], subject_);
  EXPECT_FALSE(j["truncated"].get<bool>());
  ASSERT_EQ(j["checks"].size(), 1u) << j.dump(2);
  const nlohmann::json& c = j["checks"][0];
  EXPECT_EQ(c["check"], check_);
  EXPECT_EQ(c["raised"]["person"], "test.practitioner");
  EXPECT_EQ(c["raised"]["purpose"], "child-protection-s47");
  EXPECT_EQ(c["raised"]["lawful_basis"], "uk-gdpr-6-1-e");
  EXPECT_EQ(c["raised"]["consent"], "given");
  EXPECT_FALSE(c["raised"]["policy_version"].get<std::string>().empty());
  ASSERT_EQ(c["agencies"].size(), 2u);
  const auto events = AuditEventsOf(*hub_, check_);
  for (const auto& a : c["agencies"]) {
    const std::string agency = a["agency"];
    EXPECT_EQ(a["queried"].size(), 1u) << agency;
    EXPECT_EQ(a["answers"].size(), 1u) << agency;
    size_t categories = 0;
    for (const auto& e : events) {
      if (e.agency == agency && (e.type == audit::EventType::kCategoryDisclosed ||
                                 e.type == audit::EventType::kCategoryWithheld)) {
        categories += e.categories.size();
      }
    }
    EXPECT_EQ(a["categories"].size(), categories) << agency;
    for (const auto& cat : a["categories"]) {
      EXPECT_FALSE(cat["category"].get<std::string>().empty());
      EXPECT_FALSE(cat["disposition"].get<std::string>().empty());
      EXPECT_FALSE(cat["policy_version"].get<std::string>().empty());
    }
  }
  ASSERT_EQ(c["viewed"].size(), 1u);
  EXPECT_EQ(c["viewed"][0]["person"], "test.practitioner");
  EXPECT_EQ(j["events"].get<size_t>(), events.size());
  // Nothing of the other subject's check.
  EXPECT_EQ(j.dump().find(other_check_), std::string::npos);
  // The report itself is recorded, about the subject.
  const auto all = AuditEventsOf(*hub_);
  ASSERT_EQ(all.back().detail,
            "audit: subject report; " + std::to_string(events.size()) + " events");
  EXPECT_EQ(all.back().subjects, std::vector<std::string>{subject_});
  // A second report shows the first among the subject's other events.
  auto again = Call<nlohmann::json>(
      *hub_, Reader(), [this](AuditReader& r, auto done) { r.SubjectReport(kIg, subject_, done); });
  ASSERT_TRUE(again.ok());
  ASSERT_EQ((*again)["other"].size(), 1u);
  EXPECT_EQ((*again)["other"][0]["person"], kIg.user);
  // Not a pseudonym.
  auto bad = Call<nlohmann::json>(*hub_, Reader(), [](AuditReader& r, auto done) {
    r.SubjectReport(kIg, "943 476 5919", done);
  });
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AuditReaderTest, SubjectPseudonymsMatchTheChecksAndRefuseUnknownKinds) {
  // The same identifier written differently is the same subject.
  EXPECT_EQ(Reader().SubjectPseudonym("nhs_number", "9434765919").value(), subject_);
  EXPECT_EQ(Reader().SubjectPseudonym("passport", "123").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Reader().SubjectPseudonym("nhs_number", " ").status().code(),
            StatusCode::kInvalidArgument);
  auto message = Reader().SubjectPseudonym("nhs_number", std::string(300, '9')).status().message();
  EXPECT_EQ(message.find("999"), std::string::npos);
}

TEST_F(AuditReaderTest, OnlyIgOfficersAndDposMayReadAndRefusalsAreRecorded) {
  for (const std::string role : {"practitioner", "manager", "custodian", "admin", "agency_it"}) {
    const broker::Staff who{"someone." + role, role, "hub", "team-a"};
    EXPECT_EQ(Search({}, nullptr, who).status().code(), StatusCode::kPermissionDenied) << role;
    EXPECT_EQ(Call<broker::AuditEventDetail>(
                  *hub_, Reader(), [who](AuditReader& r, auto done) { r.Event(who, 1, done); })
                  .status()
                  .code(),
              StatusCode::kPermissionDenied);
    EXPECT_EQ(Call<broker::AuditVerifyResult>(
                  *hub_, Reader(), [who](AuditReader& r, auto done) { r.Verify(who, 0, 5, done); })
                  .status()
                  .code(),
              StatusCode::kPermissionDenied);
    EXPECT_EQ(Call<broker::AuditCount>(*hub_, Reader(),
                                       [who](AuditReader& r, auto done) { r.Count(who, {}, done); })
                  .status()
                  .code(),
              StatusCode::kPermissionDenied);
    EXPECT_EQ(Call<std::shared_ptr<broker::ExportStream>>(
                  *hub_, Reader(), [who](AuditReader& r, auto done) { r.Export(who, done); })
                  .status()
                  .code(),
              StatusCode::kPermissionDenied);
    EXPECT_EQ(Call<nlohmann::json>(
                  *hub_, Reader(),
                  [who, this](AuditReader& r, auto done) { r.SubjectReport(who, subject_, done); })
                  .status()
                  .code(),
              StatusCode::kPermissionDenied);
    hub_->broker().audit().Flush();
    size_t refused = 0;
    for (const auto& e : AuditEventsOf(*hub_)) {
      if (e.person == who.user && e.type == audit::EventType::kRequestRefused &&
          e.outcome == audit::Outcome::kRefused && e.detail == "audit: role") {
        ++refused;
      }
    }
    EXPECT_EQ(refused, 6u) << role;
  }
  EXPECT_EQ(Reader().in_flight(), 0u);
}

TEST_F(AuditReaderTest, TheQueueIsBounded) {
  AuditReader& reader = OwnReader([](broker::AuditReaderOptions& o) { o.max_waiting = 2; });
  // Three searches asked at once on the io thread: the third is refused at once.
  auto results = std::make_shared<std::vector<std::promise<Status>>>(3);
  boost::asio::post(hub_->io(), [&reader, results] {
    for (size_t i = 0; i < 3; ++i) {
      reader.Search(kIg, {}, [results, i](Result<broker::AuditSearchPage> r) {
        (*results)[i].set_value(r.status());
      });
    }
  });
  EXPECT_TRUE((*results)[0].get_future().get().ok());
  EXPECT_TRUE((*results)[1].get_future().get().ok());
  EXPECT_EQ((*results)[2].get_future().get().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(OnIo(hub_->io(), [&] { return reader.in_flight(); }), 0u);
  // Room again once they are answered.
  EXPECT_TRUE(Search({}, &reader).ok());
}

}  // namespace
}  // namespace mash::testing
