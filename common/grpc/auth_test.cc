#include <grpcpp/server_context.h>
#include <grpcpp/test/server_context_test_spouse.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/grpc/red_interceptor.h"
#include "docket/v1/intake_service.pb.h"
#include "common/grpc/server_runner.h"

namespace docket::grpcutil {
namespace {

using ::testing::Not;
using ::testing::HasSubstr;

using Metadata = std::vector<std::pair<std::string, std::string>>;

absl::StatusOr<std::string> TokenFrom(const Metadata& metadata) {
  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  for (const auto& [key, value] : metadata) spouse.AddClientMetadata(key, value);
  return BearerToken(context);
}

TEST(BearerToken, ReturnsTheTokenOfABearerHeader) {
  EXPECT_EQ(TokenFrom({{"authorization", "Bearer abc.def-123"}}).value(), "abc.def-123");
}

TEST(BearerToken, SchemeIsCaseInsensitiveAndExtraSpacesAreTrimmed) {
  EXPECT_EQ(TokenFrom({{"authorization", "bearer tok"}}).value(), "tok");
  EXPECT_EQ(TokenFrom({{"authorization", "BEARER   tok  "}}).value(), "tok");
}

TEST(BearerToken, MissingMalformedOrAmbiguousHeaderIsUnauthenticated) {
  const std::vector<Metadata> cases = {
      {},
      {{"authorization", "Basic dXNlcjpwdw=="}},
      {{"authorization", "Bearer"}},
      {{"authorization", "Bearer    "}},
      {{"authorization", "Bearertok"}},
      {{"authorization", "Bearer two tokens"}},
      {{"authorization", "Bearer a"}, {"authorization", "Bearer b"}},
      {{"x-api-key", "Bearer tok"}},
  };
  for (const auto& metadata : cases) {
    const auto token = TokenFrom(metadata);
    EXPECT_EQ(token.status().code(), absl::StatusCode::kUnauthenticated) << token.status();
  }
}

TEST(BearerToken, ErrorNeverEchoesTheCredential) {
  const auto token = TokenFrom({{"authorization", "Basic s3cr3t-value"}});
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(std::string(token.status().message()), Not(HasSubstr("s3cr3t")));
}

TEST(Principal, MayActForListedTenantsOrAnyWithWildcard) {
  Principal p{"key-1", {"acme", "globex"}, {"publisher"}};
  EXPECT_TRUE(p.MayActFor("acme"));
  EXPECT_TRUE(p.MayActFor("globex"));
  EXPECT_FALSE(p.MayActFor("initech"));
  EXPECT_FALSE(p.MayActFor(""));
  EXPECT_FALSE(p.MayActFor("acm"));
  Principal admin{"ops", {"*"}, {"supervisor"}};
  EXPECT_TRUE(admin.MayActFor("initech"));
  EXPECT_FALSE(admin.MayActFor(""));
}

TEST(Principal, HasRoleIsExact) {
  Principal p{"w-7", {"acme"}, {"worker", "supervisor"}};
  EXPECT_TRUE(p.HasRole("worker"));
  EXPECT_TRUE(p.HasRole("supervisor"));
  EXPECT_FALSE(p.HasRole("publisher"));
  EXPECT_FALSE(p.HasRole("*"));
  const Principal wildcard_role{"x", {}, {"*"}};
  EXPECT_FALSE(wildcard_role.HasRole("worker"));
}

TEST(StatusCodeName, NamesEveryCanonicalCode) {
  EXPECT_STREQ(StatusCodeName(0), "OK");
  EXPECT_STREQ(StatusCodeName(14), "UNAVAILABLE");
  EXPECT_STREQ(StatusCodeName(16), "UNAUTHENTICATED");
  EXPECT_STREQ(StatusCodeName(17), "UNKNOWN");
  EXPECT_STREQ(StatusCodeName(-1), "UNKNOWN");
}

TEST(KnownMethods, ListsMethodsOfDescribedServicesAndHealth) {
  // Links intake_service.pb.o, which registers the descriptor (a real
  // service links it through its generated stub).
  ASSERT_NE(docket::v1::SubmitRequest::descriptor(), nullptr);
  const auto known = KnownMethods({"docket.v1.Intake", "no.such.Service"});
  EXPECT_EQ(known.count("/docket.v1.Intake/Submit"), 1u);
  EXPECT_EQ(known.count("/docket.v1.Intake/SubmitStream"), 1u);
  EXPECT_EQ(known.count("/grpc.health.v1.Health/Check"), 1u);
  EXPECT_EQ(known.size(), 5u);  // 3 Intake + 2 Health
}

}  // namespace
}  // namespace docket::grpcutil
