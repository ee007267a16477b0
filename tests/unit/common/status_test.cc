#include "mash/common/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace mash {
namespace {

TEST(StatusTest, DefaultIsOk) {
  const Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, FactoriesSetCodeAndMessage) {
  const struct {
    Status status;
    StatusCode code;
    const char* name;
  } cases[] = {
      {InvalidArgument("m"), StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
      {NotFound("m"), StatusCode::kNotFound, "NOT_FOUND"},
      {AlreadyExists("m"), StatusCode::kAlreadyExists, "ALREADY_EXISTS"},
      {PermissionDenied("m"), StatusCode::kPermissionDenied, "PERMISSION_DENIED"},
      {Unauthenticated("m"), StatusCode::kUnauthenticated, "UNAUTHENTICATED"},
      {FailedPrecondition("m"), StatusCode::kFailedPrecondition, "FAILED_PRECONDITION"},
      {ResourceExhausted("m"), StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
      {DeadlineExceeded("m"), StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
      {Unavailable("m"), StatusCode::kUnavailable, "UNAVAILABLE"},
      {DataLoss("m"), StatusCode::kDataLoss, "DATA_LOSS"},
      {Internal("m"), StatusCode::kInternal, "INTERNAL"},
  };
  for (const auto& c : cases) {
    EXPECT_FALSE(c.status.ok()) << c.name;
    EXPECT_EQ(c.status.code(), c.code) << c.name;
    EXPECT_EQ(c.status.message(), "m") << c.name;
    EXPECT_EQ(StatusCodeName(c.code), c.name);
    EXPECT_EQ(c.status.ToString(), std::string(c.name) + ": m");
  }
}

TEST(StatusTest, WithContextPrefixesErrorsOnly) {
  EXPECT_EQ(NotFound("no file").WithContext("load").message(), "load: no file");
  EXPECT_EQ(NotFound("no file").WithContext("load").code(), StatusCode::kNotFound);
  EXPECT_TRUE(Status::Ok().WithContext("load").ok());
  EXPECT_EQ(Status::Ok().WithContext("load").message(), "");
}

TEST(ResultTest, HoldsValueOrError) {
  Result<std::string> good(std::string("value"));
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(good.status().ok());
  EXPECT_EQ(*good, "value");
  EXPECT_EQ(good->size(), 5u);
  good.value() += "!";
  EXPECT_EQ(good.value(), "value!");

  Result<std::string> bad(NotFound("gone"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(bad.status().message(), "gone");
}

TEST(ResultTest, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

Result<int> Parse(int v) {
  if (v < 0) return InvalidArgument("negative");
  return v * 2;
}

Result<int> AddParsed(int a, int b) {
  MASH_ASSIGN_OR_RETURN(int x, Parse(a));
  MASH_ASSIGN_OR_RETURN(const int y, Parse(b));  // twice in one scope: unique temporaries
  return x + y;
}

Status CheckAll(int a, int b, int* calls) {
  ++*calls;
  MASH_RETURN_IF_ERROR(Parse(a).status());
  ++*calls;
  MASH_RETURN_IF_ERROR(Parse(b).status());
  ++*calls;
  return Status::Ok();
}

TEST(MacrosTest, AssignOrReturnPropagatesTheFirstError) {
  auto ok = AddParsed(1, 2);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 6);
  auto bad = AddParsed(1, -1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "negative");
}

TEST(MacrosTest, ReturnIfErrorStopsAtTheFirstError) {
  int calls = 0;
  EXPECT_TRUE(CheckAll(1, 2, &calls).ok());
  EXPECT_EQ(calls, 3);
  calls = 0;
  const Status s = CheckAll(-1, 2, &calls);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace mash
