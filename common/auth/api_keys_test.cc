#include "common/auth/api_keys.h"

#include <grpcpp/server_context.h>
#include <grpcpp/test/server_context_test_spouse.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace docket::auth {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kPublisherKey[] = "dk_test_publisher_secret";
constexpr char kWorkerKey[] = "dk_test_worker_secret";

std::string Hash(const std::string& key) { return hash::Sha256Hex(key); }

std::string GoodFile() {
  return absl::StrCat(
      "# test keys\n"
      "keys:\n"
      "  - id: acme-erp\n"
      "    sha256: ", Hash(kPublisherKey), "\n"
      "    roles: [publisher]\n"
      "    tenants: [acme]\n"
      "    kinds: [invoice_approval, expense_review]\n"
      "  - id: alice\n"
      "    sha256: ", Hash(kWorkerKey), "\n"
      "    roles: [worker]\n"
      "    tenants: [\"*\"]\n"
      "    worker: alice\n"
      "    skills: [ap-clerk]\n"
      "    wip_limit: 5\n");
}

ApiKeyStore GoodStore() {
  auto store = ApiKeyStore::Parse(GoodFile(), "api-keys.yaml");
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

absl::StatusOr<grpcutil::Principal> AuthenticateWith(
    const ApiKeyStore& store, const std::vector<std::pair<std::string, std::string>>& metadata) {
  grpc::ServerContext context;
  grpc::testing::ServerContextTestSpouse spouse(&context);
  for (const auto& [k, v] : metadata) spouse.AddClientMetadata(k, v);
  return ApiKeyAuthenticator(store).Authenticate(context);
}

TEST(Sha256, MatchesTheFips180Vector) {
  EXPECT_EQ(hash::Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeyStore, ParsesEveryFieldOfAGoodFile) {
  const ApiKeyStore store = GoodStore();
  ASSERT_EQ(store.keys().size(), 2u);
  const ApiKey* erp = store.Find("acme-erp");
  ASSERT_NE(erp, nullptr);
  EXPECT_THAT(erp->roles, ElementsAre("publisher"));
  EXPECT_THAT(erp->tenants, ElementsAre("acme"));
  EXPECT_THAT(erp->kinds, ElementsAre("invoice_approval", "expense_review"));
  EXPECT_EQ(erp->line, 3);
  const ApiKey* alice = store.Find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->worker, "alice");
  EXPECT_THAT(alice->skills, ElementsAre("ap-clerk"));
  EXPECT_EQ(alice->wip_limit, 5);
  EXPECT_THAT(alice->kinds, IsEmpty());
  EXPECT_EQ(store.Find("nobody"), nullptr);
}

TEST(ApiKeyStore, LookupFindsTheKeyByItsTokenOnly) {
  const ApiKeyStore store = GoodStore();
  ASSERT_NE(store.Lookup(kPublisherKey), nullptr);
  EXPECT_EQ(store.Lookup(kPublisherKey)->id, "acme-erp");
  EXPECT_EQ(store.Lookup(kWorkerKey)->id, "alice");
  EXPECT_EQ(store.Lookup("dk_test_publisher_secreT"), nullptr);
  EXPECT_EQ(store.Lookup(""), nullptr);
  // The hash itself is not a key.
  EXPECT_EQ(store.Lookup(Hash(kPublisherKey)), nullptr);
}

TEST(ApiKeyAuthenticator, GoodKeyBecomesThePrincipalOfItsEntry) {
  const ApiKeyStore store = GoodStore();
  auto p = AuthenticateWith(store, {{"authorization", absl::StrCat("Bearer ", kPublisherKey)}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->id, "acme-erp");
  EXPECT_THAT(p->tenants, ElementsAre("acme"));
  EXPECT_THAT(p->roles, ElementsAre("publisher"));
  EXPECT_TRUE(p->MayActFor("acme"));
  EXPECT_FALSE(p->MayActFor("globex"));

  const ApiKeyAuthenticator auth(store);
  const ApiKey* key = auth.KeyFor(*p);
  ASSERT_NE(key, nullptr);
  EXPECT_THAT(key->kinds, ElementsAre("invoice_approval", "expense_review"));

  auto w = AuthenticateWith(store, {{"authorization", absl::StrCat("bearer ", kWorkerKey)}});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE(w->MayActFor("globex"));  // tenants: ["*"]
  EXPECT_EQ(auth.KeyFor(*w)->worker, "alice");
}

TEST(ApiKeyAuthenticator, WrongKeyIsUnauthenticatedWithoutEchoingIt) {
  const ApiKeyStore store = GoodStore();
  auto p = AuthenticateWith(store, {{"authorization", "Bearer dk_guessed_value_42"}});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(p.status().message(), "unknown API key");
  EXPECT_THAT(std::string(p.status().message()), Not(HasSubstr("guessed")));
}

TEST(ApiKeyAuthenticator, MissingHeaderIsUnauthenticated) {
  const ApiKeyStore store = GoodStore();
  auto p = AuthenticateWith(store, {});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(p.status().message()), StartsWith("missing bearer token"));
}

TEST(ApiKeyAuthenticator, OtherSchemeIsUnauthenticatedEvenWithAValidKey) {
  const ApiKeyStore store = GoodStore();
  for (const std::string& value :
       {absl::StrCat("Basic ", kPublisherKey), absl::StrCat("Token ", kPublisherKey),
        std::string(kPublisherKey)}) {
    auto p = AuthenticateWith(store, {{"authorization", value}});
    EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated) << value;
    EXPECT_THAT(std::string(p.status().message()),
                AllOf(StartsWith("missing bearer token"), Not(HasSubstr("secret"))));
  }
  // The key in another header does not count either.
  auto p = AuthenticateWith(store, {{"x-api-key", kPublisherKey}});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(ApiKeyAuthenticator, AuthenticateTokenMakesTheSameDecision) {
  const ApiKeyStore store = GoodStore();
  const ApiKeyAuthenticator auth(store);
  EXPECT_EQ(auth.AuthenticateToken(kWorkerKey)->id, "alice");
  EXPECT_EQ(auth.AuthenticateToken("nope").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.AuthenticateToken("").status().code(), absl::StatusCode::kUnauthenticated);
}

// ---- Bad files: every error names file:line: field ----

struct BadCase {
  std::string name;
  std::string yaml;
  std::string expected_prefix;  // "file:line: field"
  std::string expected_text;
};

std::string Entry(const std::string& extra, const std::string& sha = Hash("k1"),
                  const std::string& id = "k1") {
  return absl::StrCat("  - id: ", id, "\n    sha256: ", sha, "\n", extra);
}

TEST(ApiKeyStore, EachBadEntryNamesFileLineAndField) {
  const std::string pub = "    roles: [publisher]\n    tenants: [acme]\n";
  const std::vector<BadCase> cases = {
      {"bad hex", "keys:\n" + Entry(pub, std::string(63, 'a') + "g"), "keys.yaml:3: keys[0].sha256",
       "expected 64 hex digits"},
      {"short hash", "keys:\n" + Entry(pub, "abcd"), "keys.yaml:3: keys[0].sha256",
       "expected 64 hex digits"},
      {"missing hash", "keys:\n  - id: k1\n" + pub, "keys.yaml:2: keys[0].sha256", "is required"},
      {"duplicate id", "keys:\n" + Entry(pub) + Entry(pub, Hash("k2")),
       "keys.yaml:6: keys[1].id", "duplicate id \"k1\" (also at line 2)"},
      {"duplicate hash", "keys:\n" + Entry(pub) + Entry(pub, Hash("k1"), "k2"),
       "keys.yaml:7: keys[1].sha256", "same hash as key \"k1\" (line 2)"},
      {"unknown role", "keys:\n" + Entry("    roles: [publisher, admin]\n    tenants: [acme]\n"),
       "keys.yaml:4: keys[0].roles", "unknown role \"admin\""},
      {"no roles", "keys:\n" + Entry("    roles: []\n    tenants: [acme]\n"),
       "keys.yaml:4: keys[0].roles", "must not be empty"},
      {"unknown field", "keys:\n" + Entry(pub + "    tennant: globex\n"),
       "keys.yaml:6: keys[0].tennant", "unknown field"},
      {"missing tenants", "keys:\n" + Entry("    roles: [publisher]\n"), "keys.yaml:2: keys[0].tenants",
       "is required"},
      {"bad id", "keys:\n" + Entry(pub, Hash("k1"), "\"acme key\""), "keys.yaml:2: keys[0].id",
       "must be 1 to 64 characters"},
      {"kinds on a worker",
       "keys:\n" + Entry("    roles: [worker]\n    tenants: [acme]\n    worker: w\n    kinds: [x]\n"),
       "keys.yaml:7: keys[0].kinds", "only publisher keys have kinds"},
      {"empty kinds", "keys:\n" + Entry(pub + "    kinds: []\n"), "keys.yaml:6: keys[0].kinds",
       "omit it instead"},
      {"worker without id", "keys:\n" + Entry("    roles: [supervisor]\n    tenants: [acme]\n"),
       "keys.yaml:2: keys[0].worker", "is required for worker and supervisor keys"},
      {"skills on a publisher", "keys:\n" + Entry(pub + "    skills: [ap-clerk]\n"),
       "keys.yaml:6: keys[0].skills", "only worker and supervisor keys have it"},
      {"bad wip limit",
       "keys:\n" + Entry("    roles: [worker]\n    tenants: [acme]\n    worker: w\n    wip_limit: 0\n"),
       "keys.yaml:7: keys[0].wip_limit", "must be between 1 and 1000"},
      {"wip limit not a number",
       "keys:\n" + Entry("    roles: [worker]\n    tenants: [acme]\n    worker: w\n    wip_limit: lots\n"),
       "keys.yaml:7: keys[0].wip_limit", "expected an integer"},
      {"bot supervisor",
       "keys:\n" + Entry("    roles: [worker, supervisor]\n    tenants: [acme]\n    worker: w\n    bot: true\n"),
       "keys.yaml:7: keys[0].bot", "only worker keys without the supervisor role can be bots"},
      {"bot publisher", "keys:\n" + Entry(pub + "    bot: true\n"), "keys.yaml:6: keys[0].bot",
       "only worker and supervisor keys have it"},
      {"bot not a boolean",
       "keys:\n" + Entry("    roles: [worker]\n    tenants: [acme]\n    worker: w\n    bot: maybe\n"),
       "keys.yaml:7: keys[0].bot", "expected"},
      {"unknown top-level field", "keys: []\nversion: 1\n", "keys.yaml:2: version", "unknown field"},
      {"no keys list", "key: []\n", "keys.yaml:1", "expected a map with `keys:`"},
      {"entry not a map", "keys:\n  - acme\n", "keys.yaml:2: keys[0]", "expected a map"},
  };
  for (const auto& c : cases) {
    auto store = ApiKeyStore::Parse(c.yaml, "keys.yaml");
    ASSERT_FALSE(store.ok()) << c.name;
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(store.status().message()),
                AllOf(StartsWith(c.expected_prefix), HasSubstr(c.expected_text)))
        << c.name << "\n" << c.yaml;
  }
}

TEST(ApiKeyStore, EmptyKeyListLoadsAndAcceptsNobody) {
  auto store = ApiKeyStore::Parse("keys: []\n", "keys.yaml");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(store->Lookup("anything"), nullptr);
}

TEST(ApiKeyStore, LoadReadsAFileAndNamesItInErrors) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/api-keys-test.yaml";
  {
    std::ofstream(path) << GoodFile();
  }
  auto store = ApiKeyStore::Load(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_NE(store->Lookup(kPublisherKey), nullptr);
  {
    std::ofstream(path) << "keys:\n  - id: x\n    sha256: nothex\n";
  }
  store = ApiKeyStore::Load(path);
  EXPECT_THAT(std::string(store.status().message()), StartsWith(path + ":3: keys[0].sha256"));
  EXPECT_EQ(ApiKeyStore::Load(dir + "/no-such-file.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ApiKeyStore, ShippedSampleLoadsAndItsDocumentedDemoKeysWork) {
  const char* src = std::getenv("DOCKET_SOURCE_DIR");
  const std::string root = src ? src : ".";
  auto store = ApiKeyStore::Load(root + "/deploy/config/api-keys.yaml");
  ASSERT_TRUE(store.ok()) << store.status();
  const ApiKeyAuthenticator auth(*store);
  // The plaintext demo keys documented in deploy/config/README.md.
  auto acme = auth.AuthenticateToken("dk_demo_acme_publisher_LOCAL_STACK_ONLY");
  ASSERT_TRUE(acme.ok()) << acme.status();
  EXPECT_TRUE(acme->HasRole("publisher"));
  EXPECT_TRUE(acme->MayActFor("acme"));
  EXPECT_FALSE(acme->MayActFor("globex"));
  auto alice = auth.AuthenticateToken("dk_demo_alice_worker_LOCAL_STACK_ONLY");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(auth.KeyFor(*alice)->worker, "alice");
  EXPECT_THAT(auth.KeyFor(*alice)->skills, ElementsAre("ap-clerk"));
  auto bob = auth.AuthenticateToken("dk_demo_bob_supervisor_LOCAL_STACK_ONLY");
  ASSERT_TRUE(bob.ok()) << bob.status();
  EXPECT_TRUE(bob->HasRole("supervisor"));
  EXPECT_EQ(auth.KeyFor(*bob)->worker, "bob");
  EXPECT_FALSE(auth.KeyFor(*alice)->bot) << "a person's key";
  auto databot = auth.AuthenticateToken("dk_demo_databot_worker_LOCAL_STACK_ONLY");
  ASSERT_TRUE(databot.ok()) << databot.status();
  EXPECT_TRUE(auth.KeyFor(*databot)->bot) << "the demo bot's work must be recorded as a bot's";
  auto ops = auth.AuthenticateToken("dk_demo_operator_LOCAL_STACK_ONLY");
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_TRUE(ops->HasRole("operator"));
}

// ---- Key generation ----

TEST(NewApiKey, IsDkPrefixedBase64UrlOf32RandomBytes) {
  auto a = NewApiKey();
  auto b = NewApiKey();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_THAT(*a, StartsWith("dk_"));
  EXPECT_EQ(a->size(), 3u + 43u);
  for (char c : a->substr(3)) {
    EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_')
        << c;
  }
  EXPECT_NE(*a, *b);
}

TEST(MakeKeyEntry, EntryRoundTripsThroughTheStore) {
  const KeySpec spec{"bob", {"worker", "supervisor"}, {"acme", "*"}, {}, "bob",
                     {"finance-supervisor", "ap-clerk"}, 3};
  auto key = NewApiKey();
  ASSERT_TRUE(key.ok());
  auto entry = MakeKeyEntry(spec, *key);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->key, *key);
  EXPECT_EQ(entry->sha256_hex, hash::Sha256Hex(*key));
  EXPECT_THAT(entry->yaml_entry, Not(HasSubstr(*key)));  // only the hash goes to the file

  // Pasted under `keys:` of an existing file, next to other keys.
  auto store = ApiKeyStore::Parse(GoodFile() + entry->yaml_entry, "api-keys.yaml");
  ASSERT_TRUE(store.ok()) << store.status() << "\n" << entry->yaml_entry;
  const ApiKey* k = store->Lookup(*key);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->id, "bob");
  EXPECT_THAT(k->roles, ElementsAre("worker", "supervisor"));
  EXPECT_THAT(k->tenants, ElementsAre("acme", "*"));
  EXPECT_EQ(k->worker, "bob");
  EXPECT_THAT(k->skills, ElementsAre("finance-supervisor", "ap-clerk"));
  EXPECT_EQ(k->wip_limit, 3);
}

TEST(MakeKeyEntry, BotWorkerEntryLoadsAsABotAndAPersonsEntryDoesNot) {
  KeySpec spec{"scanner", {"worker"}, {"acme"}, {}, "scanner", {"data-entry"}, 200};
  spec.bot = true;
  auto entry = MakeKeyEntry(spec, "dk_bot_for_test");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_THAT(entry->yaml_entry, HasSubstr("bot: true"));
  auto store = ApiKeyStore::Parse("keys:\n" + entry->yaml_entry, "api-keys.yaml");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_TRUE(store->Lookup("dk_bot_for_test")->bot);

  spec.bot = false;
  entry = MakeKeyEntry(spec, "dk_person_for_test");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_THAT(entry->yaml_entry, Not(HasSubstr("bot:")));
  store = ApiKeyStore::Parse("keys:\n" + entry->yaml_entry, "api-keys.yaml");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_FALSE(store->Lookup("dk_person_for_test")->bot);
}

TEST(MakeKeyEntry, PublisherWithKindsAndNamesThatNeedQuoting) {
  const KeySpec spec{"erp.v2", {"publisher"}, {"null", "a b"}, {"*", "kyc:review"}, "", {}, 0};
  auto entry = MakeKeyEntry(spec, "dk_fixed_for_test");
  ASSERT_TRUE(entry.ok()) << entry.status();
  auto store = ApiKeyStore::Parse("keys:\n" + entry->yaml_entry, "api-keys.yaml");
  ASSERT_TRUE(store.ok()) << store.status();
  const ApiKey* k = store->Lookup("dk_fixed_for_test");
  ASSERT_NE(k, nullptr);
  EXPECT_THAT(k->tenants, ElementsAre("null", "a b"));
  EXPECT_THAT(k->kinds, ElementsAre("*", "kyc:review"));
}

TEST(MakeKeyEntry, ASpecThatWouldNotLoadIsRejectedNamingTheField) {
  auto entry = MakeKeyEntry(KeySpec{"w", {"worker"}, {"acme"}, {}, "", {}, 0}, "dk_x");
  EXPECT_EQ(entry.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(entry.status().message()), HasSubstr("keys[0].worker"));
  entry = MakeKeyEntry(KeySpec{"p", {"admin"}, {"acme"}, {}, "", {}, 0}, "dk_x");
  EXPECT_THAT(std::string(entry.status().message()), HasSubstr("unknown role"));
  entry = MakeKeyEntry(KeySpec{"p", {"publisher"}, {}, {}, "", {}, 0}, "dk_x");
  EXPECT_THAT(std::string(entry.status().message()), HasSubstr("keys[0].tenants"));
}

}  // namespace
}  // namespace docket::auth
