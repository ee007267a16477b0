// The canonical event encoding and the checkpoint and receipt formats.
#include "mash/audit/event.h"

#include <gtest/gtest.h>

#include "mash/audit/checkpoint.h"
#include "mash/audit/receipt.h"
#include "mash/common/clock.h"

namespace mash::audit {
namespace {

AuditEvent SampleEvent() {
  AuditEvent e;
  e.seq = 7;
  e.time_ms = 1'700'000'000'123;
  e.type = EventType::kCategoryWithheld;
  e.outcome = Outcome::kWithheld;
  e.person = "agent:police";
  e.role = "agent";
  e.organisation = "police";
  e.agency = "police";
  e.subjects = {"ps1:aa", "ps1:bb"};
  e.check_ref = "chk-1";
  e.purpose = "child_protection_s47";
  e.lawful_basis = "uk_gdpr_6_1_e";
  e.consent = "not_sought";
  e.override_ground = "child_significant_harm";
  e.justification_ref = "just-9";
  e.level = 2;
  e.categories = {{"police.intelligence", "withheld", "serious_crime_prejudice"}};
  e.rule = "police.intel.forbid";
  e.policy_version = "sha256:00";
  e.envelope_hashes = {Bytes(32, 0xab)};
  e.detail = "";
  return e;
}

TEST(EventEncodingTest, RoundTripsAndIsCanonical) {
  const AuditEvent e = SampleEvent();
  auto enc = EncodeEvent(e);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  auto dec = DecodeEvent(*enc);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, e);
  EXPECT_EQ(*EncodeEvent(*dec), *enc);
}

TEST(EventEncodingTest, KnownBytes) {
  AuditEvent e;
  e.seq = 1;
  e.time_ms = 2;
  e.type = EventType::kResultViewed;
  e.outcome = Outcome::kOk;
  e.person = "u1";
  e.subjects = {"ps1:x"};
  e.level = -1;
  const std::string expected =
      "01"                // version
      "0000000000000001"  // seq
      "0000000000000002"  // time_ms
      "0000000d"
      "726573756c745f766965776564"  // type "result_viewed"
      "00000002"
      "6f6b"  // outcome "ok"
      "00000002"
      "7531"  // person "u1"
      "00000000"
      "00000000"
      "00000000"  // role, organisation, agency
      "00000001"
      "00000005"
      "7073313a78"  // subjects ["ps1:x"]
      "00000000"
      "00000000"
      "00000000"
      "00000000"
      "00000000"
      "00000000"  // check_ref..justification
      "ffffffff"  // level -1
      "00000000"  // categories []
      "00000000"
      "00000000"   // rule, policy_version
      "00000000"   // envelope_hashes []
      "00000000";  // detail
  EXPECT_EQ(common::HexEncode(*EncodeEvent(e)), expected);
}

TEST(EventEncodingTest, DecoderRejectsEveryTruncationAndTrailingByte) {
  const Bytes enc = *EncodeEvent(SampleEvent());
  for (size_t n = 0; n < enc.size(); ++n) {
    EXPECT_FALSE(DecodeEvent(std::span(enc).first(n)).ok()) << n;
  }
  Bytes longer = enc;
  longer.push_back(0);
  EXPECT_FALSE(DecodeEvent(longer).ok());
  Bytes version = enc;
  version[0] = 2;
  EXPECT_FALSE(DecodeEvent(version).ok());
  Bytes huge_len = enc;
  huge_len[17] = 0xff;  // first byte of the type length
  EXPECT_FALSE(DecodeEvent(huge_len).ok());
}

TEST(EventEncodingTest, ValidationNamesTheFieldNotTheValue) {
  AuditEvent e = SampleEvent();
  e.person = "bad\nname";
  auto s = EncodeEvent(e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("person"), std::string::npos);
  EXPECT_EQ(s.status().message().find("bad"), std::string::npos);
  e = SampleEvent();
  e.envelope_hashes = {Bytes(31, 0)};
  EXPECT_FALSE(EncodeEvent(e).ok());
  e = SampleEvent();
  e.subjects.assign(kMaxListItems + 1, "ps1:x");
  EXPECT_FALSE(EncodeEvent(e).ok());
}

TEST(EventEncodingTest, EveryTypeAndOutcomeHasAName) {
  for (EventType t : AllEventTypes()) EXPECT_EQ(ParseEventType(EventTypeName(t)), t);
  EXPECT_FALSE(ParseEventType("nope").has_value());
  EXPECT_EQ(ParseOutcome("refused"), Outcome::kRefused);
}

TEST(EventEncodingTest, AlertEventsRoundTripByName) {
  // The IG alert queue's events (docs/audit-format.md): written by name, read back the same.
  for (std::string_view name : {"alert_raised", "alert_status_changed", "alert_acknowledged"}) {
    const auto type = ParseEventType(name);
    ASSERT_TRUE(type.has_value()) << name;
    AuditEvent e = SampleEvent();
    e.type = *type;
    e.detail = "alert:0123456789abcdef0123456789abcdef override new->under_review";
    auto enc = EncodeEvent(e);
    ASSERT_TRUE(enc.ok()) << name;
    auto dec = DecodeEvent(*enc);
    ASSERT_TRUE(dec.ok()) << name;
    EXPECT_EQ(*dec, e) << name;
    EXPECT_EQ(EventTypeName(dec->type), name);
  }
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { common::InitCrypto(); }
  Checkpoint Sample() const {
    Checkpoint c;
    c.origin = "mash-broker.test";
    c.size = 42;
    c.root = HashLeaf(common::AsBytes("r"));
    c.chain = HashLeaf(common::AsBytes("c"));
    c.time_ms = 1'700'000'000'000;
    c.retained_from = 3;
    return c;
  }
  crypto::SigningKey key_ = (common::InitCrypto(), crypto::SigningKey::Generate());
};

TEST_F(CheckpointTest, SignParseVerify) {
  auto sc = SignCheckpoint(Sample(), key_);
  ASSERT_TRUE(sc.ok());
  EXPECT_EQ(sc->text.rfind("mash-audit-checkpoint/v1\norigin mash-broker.test\nsize 42\n", 0), 0u);
  auto parsed = ParseAndVerifyCheckpoint(sc->text, key_.Public());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->checkpoint, Sample());
  auto other = crypto::SigningKey::Generate();
  EXPECT_FALSE(ParseAndVerifyCheckpoint(sc->text, other.Public()).ok());
}

TEST_F(CheckpointTest, RejectsEveryChangedByte) {
  const std::string text = SignCheckpoint(Sample(), key_)->text;
  for (size_t i = 0; i < text.size(); ++i) {
    std::string bad = text;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_FALSE(ParseAndVerifyCheckpoint(bad, key_.Public()).ok()) << i;
  }
  EXPECT_FALSE(ParseCheckpoint(text + "\n").ok());
  EXPECT_FALSE(ParseCheckpoint(text.substr(0, text.size() - 1)).ok());
  EXPECT_FALSE(ParseCheckpoint("").ok());
}

TEST_F(CheckpointTest, ReceiptJsonRoundTripAndStrictness) {
  Receipt r;
  r.seq = 5;
  r.leaf_hash = HashLeaf(common::AsBytes("x"));
  r.inclusion = {HashLeaf(common::AsBytes("a")), HashLeaf(common::AsBytes("b"))};
  r.checkpoint = SignCheckpoint(Sample(), key_)->text;
  r.consistency = ConsistencyFrom{3, {HashLeaf(common::AsBytes("c"))}};
  const auto j = r.ToJson();
  auto back = Receipt::FromJson(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, r);
  // Straight from memory too: nlohmann holds built integers as signed, parsed ones as unsigned
  // (found by audit_decode_fuzz).
  auto direct = Receipt::FromJson(j);
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_EQ(*direct, r);
  auto extra = j;
  extra["surprise"] = 1;
  EXPECT_FALSE(Receipt::FromJson(extra).ok());
  auto short_hash = j;
  short_hash["inclusion"][0] = common::Base64Encode(Bytes(31, 0));
  EXPECT_FALSE(Receipt::FromJson(short_hash).ok());
  auto negative = j;
  negative["seq"] = -1;
  EXPECT_FALSE(Receipt::FromJson(negative).ok());
}

}  // namespace
}  // namespace mash::audit
