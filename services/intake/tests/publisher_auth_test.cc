#include "services/intake/src/publisher_auth.h"

#include <grpcpp/server_context.h>
#include <grpcpp/test/server_context_test_spouse.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/kafka/fake_event_publisher.h"

namespace docket::intake {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kInvoicesKey[] = "dk_test_acme_invoices";
constexpr char kAnyKindKey[] = "dk_test_acme_any";
constexpr char kWorkerKey[] = "dk_test_alice";

std::string KeysFile() {
  const auto h = [](const char* k) { return hash::Sha256Hex(k); };
  return absl::StrCat("keys:\n"
                      "  - {id: acme-invoices, sha256: ", h(kInvoicesKey),
                      ", roles: [publisher], tenants: [acme], kinds: [invoice]}\n"
                      "  - {id: acme-any, sha256: ", h(kAnyKindKey),
                      ", roles: [publisher], tenants: [acme]}\n"
                      "  - {id: alice, sha256: ", h(kWorkerKey),
                      ", roles: [worker], tenants: [acme], worker: alice, skills: [ap-clerk]}\n");
}

constexpr char kCatalog[] = R"(version: 1
tenants: [{id: acme}, {id: globex}]
queues:
  - {name: ap, skills: [ap-clerk]}
kinds:
  - {name: invoice, queue: ap, sla: 4h}
  - {name: expense, queue: ap, sla: 1d}
)";

class PublisherAuthTest : public ::testing::Test {
 protected:
  PublisherAuthTest()
      : store_(*auth::ApiKeyStore::Parse(KeysFile(), "api-keys.yaml")),
        authenticator_(store_),
        catalog_(*catalog::Catalog::Parse(kCatalog, "catalog.yaml")),
        clock_(Clock::TimePoint(1'700'000'000'000ms)),
        idem_(MakeInMemoryIdempotencyStore(clock_, {})),
        limiter_(clock_, {}),
        admission_(catalog_, *idem_, publisher_, limiter_, clock_, kafka::Topics(), nullptr) {}

  absl::StatusOr<Publisher> Authenticate(const std::string& authorization) {
    grpc::ServerContext context;
    grpc::testing::ServerContextTestSpouse spouse(&context);
    if (!authorization.empty()) spouse.AddClientMetadata("authorization", authorization);
    return AuthenticatePublisher(authenticator_, context);
  }

  absl::Status Submit(const Publisher& p, const std::string& tenant, const std::string& kind,
                      const std::string& key) {
    docket::v1::WorkSubmission s;
    s.set_tenant(tenant);
    s.set_kind(kind);
    s.set_idempotency_key(key);
    return admission_.Admit(p, {s}, "grpc")[0].status;
  }

  auth::ApiKeyStore store_;
  auth::ApiKeyAuthenticator authenticator_;
  catalog::Catalog catalog_;
  FakeClock clock_;
  std::unique_ptr<IdempotencyStore> idem_;
  RateLimiter limiter_;
  kafka::FakeEventPublisher publisher_;
  Admission admission_;
};

TEST_F(PublisherAuthTest, PublisherKeyMapsToItsTenantsAndKinds) {
  auto p = PublisherFor(*store_.Find("acme-invoices"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, "acme-invoices");
  EXPECT_THAT(p->tenants, ElementsAre("acme"));
  EXPECT_THAT(p->kinds, ElementsAre("invoice"));
  EXPECT_THAT(PublisherFor(*store_.Find("acme-any"))->kinds, IsEmpty());  // every kind
}

TEST_F(PublisherAuthTest, KeyWithoutPublisherRoleCannotSubmit) {
  auto p = PublisherFor(*store_.Find("alice"));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("alice"));
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("publisher"));
  auto via_grpc = Authenticate(absl::StrCat("Bearer ", kWorkerKey));
  EXPECT_EQ(via_grpc.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(PublisherAuthTest, MissingOrUnknownKeyIsUnauthenticatedWithoutTheToken) {
  EXPECT_EQ(Authenticate("").status().code(), absl::StatusCode::kUnauthenticated);
  auto wrong = Authenticate("Bearer dk_not_a_key_XYZ");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(wrong.status().message()), Not(HasSubstr("XYZ")));
  auto basic = Authenticate(absl::StrCat("Basic ", kAnyKindKey));
  EXPECT_EQ(basic.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(PublisherAuthTest, AdmissionEnforcesTheKeysTenantsAndKinds) {
  auto invoices = Authenticate(absl::StrCat("Bearer ", kInvoicesKey));
  ASSERT_TRUE(invoices.ok()) << invoices.status();
  EXPECT_TRUE(Submit(*invoices, "acme", "invoice", "k1").ok());
  EXPECT_EQ(Submit(*invoices, "acme", "expense", "k2").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Submit(*invoices, "globex", "invoice", "k3").code(), absl::StatusCode::kPermissionDenied);

  auto any = Authenticate(absl::StrCat("Bearer ", kAnyKindKey));
  ASSERT_TRUE(any.ok()) << any.status();
  EXPECT_TRUE(Submit(*any, "acme", "expense", "k4").ok());
  EXPECT_EQ(Submit(*any, "globex", "expense", "k5").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(publisher_.records().size(), 2u);
}

}  // namespace
}  // namespace docket::intake
