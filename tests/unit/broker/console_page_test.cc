// The console's page toolkit: form and query decoding, escaping, and the markup of fields with
// errors (what the error summary links to).
#include <gtest/gtest.h>

#include "console/page.h"

namespace mash::broker::console {
namespace {

TEST(ConsoleParamsTest, DecodesFormsAndQueries) {
  auto p = Params::Parse("user=pat.p&password=a+b%26c%3D&agencies=police&agencies=health&empty=");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->Get("user"), "pat.p");
  EXPECT_EQ(p->Get("password"), "a b&c=");
  EXPECT_EQ(p->All("agencies"), (std::vector<std::string>{"police", "health"}));
  EXPECT_TRUE(p->Has("empty"));
  EXPECT_EQ(p->Get("empty"), "");
  EXPECT_EQ(p->Get("absent"), "");
  // Get trims white space; items() keep what was typed (passwords).
  auto spaced = Params::Parse("name=%20%20Ava%20");
  ASSERT_TRUE(spaced.has_value());
  EXPECT_EQ(spaced->Get("name"), "Ava");
  EXPECT_EQ(spaced->items()[0].second, "  Ava ");
}

TEST(ConsoleParamsTest, RefusesMalformedEscapesAndTooManyFields) {
  for (const char* bad : {"a=%", "a=%4", "a=%zz", "%g1=x", "a=b%"}) {
    EXPECT_FALSE(Params::Parse(bad).has_value()) << bad;
  }
  std::string many;
  for (int i = 0; i < 201; ++i) many += "f" + std::to_string(i) + "=1&";
  EXPECT_FALSE(Params::Parse(many).has_value());
  many.clear();
  for (int i = 0; i < 200; ++i) many += "f" + std::to_string(i) + "=1&";
  EXPECT_TRUE(Params::Parse(many).has_value());
  EXPECT_TRUE(Params::Parse("").has_value());
}

TEST(ConsoleMarkupTest, EscapesEverythingItIsGiven) {
  EXPECT_EQ(Escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
  // Control characters other than tab and line ends are dropped.
  EXPECT_EQ(Escape(std::string("a\x01"
                               "b\x1b[31m",
                               8)),
            "ab[31m");
  EXPECT_EQ(UrlEncode("/checks?a=1 b"), "%2Fchecks%3Fa%3D1%20b");
  const std::string field = TextInput({.name = "family_name",
                                       .label = "Family <name>",
                                       .value = "\"><img src=x onerror=alert(1)>",
                                       .error = "Enter the family name"});
  EXPECT_EQ(field.find("<img"), std::string::npos);
  EXPECT_NE(field.find("govuk-form-group--error"), std::string::npos);
  EXPECT_NE(field.find("id=\"family_name-error\""), std::string::npos);
  EXPECT_NE(field.find("aria-describedby=\"family_name-error\""), std::string::npos);
  EXPECT_NE(field.find("Family &lt;name&gt;"), std::string::npos);
}

TEST(ConsoleMarkupTest, PasswordsAreNeverWrittenBackIntoThePage) {
  const std::string field =
      TextInput({.name = "password", .label = "Password", .value = "secret", .type = "password"});
  EXPECT_EQ(field.find("secret"), std::string::npos);
}

TEST(ConsoleMarkupTest, ErrorSummaryLinksToEachFieldAndTitleSaysError) {
  Request r;
  Page page;
  page.title = "Who is the check about?";
  page.errors = {{"family_name", "Enter the family name"}, {"", "A message without a field"}};
  const std::string html = RenderPage(r, page, "MASH Exchange");
  EXPECT_NE(html.find("<title>Error: Who is the check about? - MASH Exchange</title>"),
            std::string::npos);
  EXPECT_NE(html.find("<a href=\"#family_name\">Enter the family name</a>"), std::string::npos);
  EXPECT_NE(html.find("<li>A message without a field</li>"), std::string::npos);
  // No inline script or style: the CSP forbids them.
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_EQ(html.find("style="), std::string::npos);
  EXPECT_NE(html.find("govuk-generic-header"), std::string::npos);
}

TEST(ConsoleMarkupTest, SortableTableSortsOnlyColumnsWithAHeading) {
  Table t;
  t.head = {"Raised", ""};
  t.sortable = true;
  t.rows_html = {{"today", "<a href=\"/alerts/1\">Review</a>"}};
  const std::string html = RenderTable(t);
  EXPECT_NE(html.find("data-module=\"moj-sortable-table\""), std::string::npos);
  EXPECT_NE(html.find("aria-sort=\"none\">Raised</th>"), std::string::npos);
  // The heading-less column gets no sort button (it would have no accessible name).
  EXPECT_NE(html.find("<th scope=\"col\" class=\"govuk-table__header\"></th>"), std::string::npos);
  t.sortable = false;
  EXPECT_EQ(RenderTable(t).find("aria-sort"), std::string::npos);
}

TEST(ConsoleMarkupTest, ConditionalRevealsStayVisibleWhenChosen) {
  const std::string html = Radios(
      {.name = "consent_state",
       .legend = "Consent",
       .choices = {{"given", "Yes", "", "<p>evidence</p>"}, {"refused", "No", "", "<p>ground</p>"}},
       .selected = {"given"}});
  EXPECT_NE(html.find("id=\"conditional-consent_state\">"), std::string::npos);
  EXPECT_NE(html.find("govuk-radios__conditional govuk-radios__conditional--hidden\" "
                      "id=\"conditional-consent_state-2\""),
            std::string::npos);
  EXPECT_NE(html.find("value=\"given\" checked"), std::string::npos);
}

TEST(ConsoleTimeTest, ParsesWhatTheApiWritesAndFormatsForPeople) {
  EXPECT_EQ(ParseTime("2026-12-24T14:00:00.000Z"), 1798120800);
  EXPECT_EQ(ParseTime("2026-12-24T14:00:00Z"), 1798120800);
  EXPECT_EQ(ParseTime("yesterday"), 0);
  EXPECT_EQ(ParseTime(""), 0);
  EXPECT_EQ(FormatTime(1798120800), "Thu 24 Dec 2026, 14:00 UTC");
  EXPECT_EQ(FormatTime(0), "");
}

}  // namespace
}  // namespace mash::broker::console
