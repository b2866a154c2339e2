// RedisClient against a real redis-server (docket::testing::RedisServer).

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/metrics/metrics.h"
#include "common/redis/redis_client.h"
#include "common/redis/redis_test_util.h"
#include "common/testing/fixtures.h"
#include "common/testing/http.h"

namespace docket::redis {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  RedisOptions Options() const {
    auto options = ParseRedisUrl(server_->url());
    EXPECT_TRUE(options.ok()) << options.status();
    return options.ok() ? *options : RedisOptions{};
  }

  std::unique_ptr<RedisClient> Client(const RedisOptions& options,
                                      metrics::MetricsRegistry* registry = nullptr) {
    auto client = MakeRedisClient(options, registry);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  std::unique_ptr<RedisClient> Client() { return Client(Options()); }

  std::unique_ptr<testing::RedisServer> server_;
};


Reply MustCommand(RedisClient& client, const std::vector<std::string>& args) {
  auto reply = client.Command(args);
  EXPECT_TRUE(reply.ok()) << args.front() << ": " << reply.status();
  return reply.ok() ? *reply : Reply{};
}

TEST_F(RedisClientTest, SetGetRoundTripsKeysAndValuesWithEmbeddedNulsAndHighBytes) {
  auto client = Client();
  const std::string key("k\0ey\xff", 6);
  std::string value("a\0b\0\0c\r\n\xfe", 9);
  value += std::string(100000, '\0');  // a large, all-NUL tail too
  EXPECT_EQ(MustCommand(*client, {"SET", key, value}).str, "OK");
  Reply got = MustCommand(*client, {"GET", key});
  ASSERT_EQ(got.type, Reply::Type::kString);
  EXPECT_EQ(got.str.size(), value.size());
  EXPECT_EQ(got.str, value);
  // The key with the NUL is not the key cut at the NUL.
  EXPECT_TRUE(MustCommand(*client, {"GET", std::string("k")}).is_nil());
  EXPECT_EQ(MustCommand(*client, {"STRLEN", key}).integer, static_cast<int64_t>(value.size()));
}

TEST_F(RedisClientTest, PipelineOf1000ReturnsRepliesInOrderAndAnErrorReplyInTheMiddleKeepsTheRest) {
  auto client = Client();
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 1000; ++i) {
    if (i == 500) {
      commands.push_back({"HSET", "seq", "f", "v"});  // WRONGTYPE: seq is a string
    } else {
      commands.push_back({"INCR", "seq"});
    }
  }
  auto replies = client->Pipeline(commands);
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 1000u);
  std::int64_t expected = 0;
  for (int i = 0; i < 1000; ++i) {
    const Reply& r = (*replies)[i];
    if (i == 500) {
      ASSERT_EQ(r.type, Reply::Type::kError);
      EXPECT_NE(r.str.find("WRONGTYPE"), std::string::npos) << r.str;
      continue;
    }
    ASSERT_EQ(r.type, Reply::Type::kInteger) << "reply " << i;
    EXPECT_EQ(r.integer, ++expected) << "reply " << i << " out of order";
  }
  EXPECT_EQ(expected, 999);
  // The connection is still in step: the next command gets its own reply.
  EXPECT_EQ(MustCommand(*client, {"GET", "seq"}).str, "999");
}

TEST_F(RedisClientTest, ErrorReplyToACommandIsInternalWithRedisMessageAndTheClientCarriesOn) {
  auto client = Client(Options());
  MustCommand(*client, {"SET", "s", "x"});
  auto reply = client->Command({"LPUSH", "s", "y"});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(reply.status().message().find("WRONGTYPE"), std::string_view::npos) << reply.status();
  EXPECT_EQ(MustCommand(*client, {"GET", "s"}).str, "x");
}

TEST_F(RedisClientTest, MultiExecInsideOnePipelineRunsAndItsErrorRepliesAreElements) {
  auto client = Client();
  MustCommand(*client, {"SET", "s", "x"});
  auto replies = client->Pipeline(
      {{"MULTI"}, {"INCR", "n"}, {"LPUSH", "s", "y"}, {"INCR", "n"}, {"EXEC"}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 5u);
  EXPECT_EQ((*replies)[1].str, "QUEUED");
  const Reply& exec = (*replies)[4];
  ASSERT_EQ(exec.type, Reply::Type::kArray);
  ASSERT_EQ(exec.elements.size(), 3u);
  EXPECT_EQ(exec.elements[0].integer, 1);
  EXPECT_TRUE(exec.elements[1].is_error());
  EXPECT_NE(exec.elements[1].str.find("WRONGTYPE"), std::string::npos);
  EXPECT_EQ(exec.elements[2].integer, 2);
  // The connection left the transaction: a plain command is not QUEUED.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(MustCommand(*client, {"GET", "n"}).str, "2");
}

TEST_F(RedisClientTest, EvalRunsTheScriptAndSurvivesScriptFlushThroughTheNoscriptFallback) {
  auto admin = Client();
  auto client = Client();
  const Script script(
      "redis.call('SET', KEYS[1], ARGV[1]); return {KEYS[1], redis.call('GET', KEYS[1])}");
  // First run on a fresh server: EVALSHA answers NOSCRIPT, EVAL loads it.
  auto first = client->Eval(script, {"ek"}, {std::string("v\0 1", 4)});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->elements.size(), 2u);
  EXPECT_EQ(first->elements[0].str, "ek");
  EXPECT_EQ(first->elements[1].str, std::string("v\0 1", 4));
  Reply exists = MustCommand(*admin, {"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_EQ(exists.elements.size(), 1u);
  EXPECT_EQ(exists.elements[0].integer, 1) << "EVAL should have cached the script by its SHA-1";

  EXPECT_EQ(MustCommand(*admin, {"SCRIPT", "FLUSH"}).str, "OK");
  auto again = client->Eval(script, {"ek"}, {"v2"});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->elements[1].str, "v2");
  EXPECT_EQ(MustCommand(*admin, {"GET", "ek"}).str, "v2");
}

TEST_F(RedisClientTest, EvalPipelineRunsEachCallsScriptInOrderInOneRoundTripAndSurvivesScriptFlush) {
  auto admin = Client();
  auto client = Client();
  // Appends ARGV[1] to KEYS[1] and returns the result; fails on "bad".
  const Script script(
      "if ARGV[1] == 'bad' then return redis.error_reply('bad call') end "
      "return redis.call('APPEND', KEYS[1], ARGV[1])");
  std::vector<EvalCall> calls;
  for (const char* a : {"a", "b", "bad", "c"}) calls.push_back({&script, {"ep"}, {a}});
  // Not cached yet: every call is answered NOSCRIPT, loaded, and sent again.
  auto first = EvalPipeline(*client, calls);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 4u);
  EXPECT_EQ((*first)[0].integer, 1);
  EXPECT_EQ((*first)[1].integer, 2);
  EXPECT_TRUE((*first)[2].is_error());
  EXPECT_NE((*first)[2].str.find("bad call"), std::string::npos) << (*first)[2].str;
  EXPECT_EQ((*first)[3].integer, 3);
  EXPECT_EQ(MustCommand(*admin, {"GET", "ep"}).str, "abc");

  auto cached = EvalPipeline(*client, calls);
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ((*cached)[3].integer, 6);
  EXPECT_EQ(MustCommand(*admin, {"SCRIPT", "FLUSH"}).str, "OK");
  // Two scripts in one pipeline, neither cached: both loaded, order kept.
  const Script length("return redis.call('STRLEN', KEYS[1])");
  auto flushed = EvalPipeline(*client, {{&script, {"ep"}, {"d"}}, {&length, {"ep"}, {}}});
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  ASSERT_EQ(flushed->size(), 2u);
  EXPECT_EQ((*flushed)[0].integer, 7);
  EXPECT_EQ((*flushed)[1].integer, 7);
  EXPECT_EQ(MustCommand(*admin, {"GET", "ep"}).str, "abcabcd");
  auto none = EvalPipeline(*client, {});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto scriptless = EvalPipeline(*client, {{nullptr, {"ep"}, {}}});
  EXPECT_EQ(scriptless.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RedisClientTest, EvalScriptErrorIsInternalWithTheScriptsMessage) {
  auto client = Client();
  auto reply = client->Eval(Script("return redis.error_reply('no such item')"), {}, {});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(reply.status().message().find("no such item"), std::string_view::npos)
      << reply.status();
}

TEST_F(RedisClientTest, SelectsTheDbFromTheUrl) {
  auto options = Options();
  options.db = 3;
  auto in_db3 = Client(options);
  auto in_db0 = Client();
  MustCommand(*in_db3, {"SET", "where", "db3"});
  EXPECT_TRUE(MustCommand(*in_db0, {"GET", "where"}).is_nil());
  EXPECT_EQ(MustCommand(*in_db3, {"GET", "where"}).str, "db3");
}

TEST_F(RedisClientTest, PasswordAndAclUserFromTheUrlAuthenticateAndNoPasswordIsUnauthenticated) {
  auto admin = Client();
  const std::string password = "pw-Xq83!@:/%";
  MustCommand(*admin, {"CONFIG", "SET", "requirepass", password});
  MustCommand(*admin, {"ACL", "SETUSER", "docket", "on", ">user-pw", "~*", "+@all"});

  // The URL form, with the password percent-encoded.
  auto with_password = ParseRedisUrl(absl::StrCat("redis://:pw-Xq83%21%40%3A%2F%25@127.0.0.1:",
                                                  server_->port(), "/0"));
  ASSERT_TRUE(with_password.ok()) << with_password.status();
  EXPECT_EQ(with_password->password, password);
  auto client = Client(*with_password);
  EXPECT_EQ(MustCommand(*client, {"PING"}).str, "PONG");

  auto as_user = ParseRedisUrl(absl::StrCat("redis://docket:user-pw@127.0.0.1:", server_->port()));
  ASSERT_TRUE(as_user.ok());
  auto user_client = Client(*as_user);
  EXPECT_EQ(MustCommand(*user_client, {"ACL", "WHOAMI"}).str, "docket");

  auto anonymous = Client();
  auto reply = anonymous->Command({"PING"});
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnauthenticated) << reply.status();
  EXPECT_NE(reply.status().message().find("NOAUTH"), std::string_view::npos);

  MustCommand(*client, {"CONFIG", "SET", "requirepass", ""});
}

// A wrong password is a configuration problem, not an outage:
// UNAUTHENTICATED (not retryable), also while the client backs off, and
// neither the status nor any log line carries the password.
TEST_F(RedisClientTest, WrongPasswordIsUnauthenticatedNotRetryableAndNeverLogged) {
  auto admin = Client();
  MustCommand(*admin, {"CONFIG", "SET", "requirepass", "right-password"});

  const log::Level saved_level = log::CurrentLevel();
  log::SetLevel(log::Level::kDebug);
  ::testing::internal::CaptureStderr();
  auto options = Options();
  options.password = "WrongPassw0rd";
  options.backoff_initial = milliseconds(60000);
  options.backoff_max = milliseconds(60000);
  auto client = Client(options);
  auto first = client->Command({"PING"});
  const auto start = SteadyClock::now();
  auto second = client->Command({"PING"});
  const auto second_took = SteadyClock::now() - start;
  auto as_user = options;
  as_user.username = "nobody";
  auto user_reply = Client(as_user)->Command({"PING"});
  const std::string logs = ::testing::internal::GetCapturedStderr();
  log::SetLevel(saved_level);

  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnauthenticated) << first.status();
  EXPECT_NE(first.status().message().find("AUTH refused"), std::string_view::npos);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnauthenticated) << second.status();
  EXPECT_LT(second_took, milliseconds(500)) << "a call while backing off should fail fast";
  ASSERT_FALSE(user_reply.ok());
  EXPECT_EQ(user_reply.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(user_reply.status().message().find("nobody"), std::string_view::npos);

  for (const auto& s : {first.status(), second.status(), user_reply.status()}) {
    EXPECT_EQ(s.ToString().find("WrongPassw0rd"), std::string::npos) << s;
  }
  EXPECT_NE(logs.find("redis connect failed"), std::string::npos) << logs;
  EXPECT_EQ(logs.find("WrongPassw0rd"), std::string::npos) << logs;

  MustCommand(*admin, {"CONFIG", "SET", "requirepass", ""});
}

TEST_F(RedisClientTest, NothingListeningIsUnavailableAndCallsFailFastWhileBackingOff) {
  auto options = Options();
  ASSERT_TRUE(server_->Stop().ok());
  options.backoff_initial = milliseconds(60000);
  options.backoff_max = milliseconds(60000);
  auto client = Client(options);
  auto first = client->Command({"PING"});
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable) << first.status();
  const auto start = SteadyClock::now();
  for (int i = 0; i < 100; ++i) {
    auto r = client->Command({"PING"});
    ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
    EXPECT_NE(r.status().message().find("reconnecting"), std::string_view::npos) << r.status();
  }
  EXPECT_LT(SteadyClock::now() - start, milliseconds(500))
      << "100 calls while backing off should not each try to connect";
}

// Redis goes away mid-test and comes back on the same port: calls during the
// outage fail with UNAVAILABLE (retryable) and never crash the process, and
// the same client object works again once Redis is back.
TEST_F(RedisClientTest, OutageGivesUnavailableAndTheSameClientRecoversAfterRestart) {
  metrics::MetricsRegistry registry(metrics::BuildInfo{"redis_itest", "test", "test"});
  auto options = Options();
  options.backoff_initial = milliseconds(20);
  options.backoff_max = milliseconds(200);
  auto client = Client(options, &registry);
  // Warm the whole pool so that every connection goes stale at once.
  std::vector<std::thread> warm;
  for (int i = 0; i < options.pool_size; ++i) {
    warm.emplace_back([&] { MustCommand(*client, {"BLPOP", "nothing", "0.05"}); });
  }
  for (auto& t : warm) t.join();
  MustCommand(*client, {"SET", "before", "1"});

  ASSERT_TRUE(server_->Stop().ok());
  const Script script("return 1");
  const std::string big(4 << 20, 'x');  // large writes into a dead socket: EPIPE, not SIGPIPE
  for (int i = 0; i < 20; ++i) {
    auto get = client->Command({"GET", "before"});
    ASSERT_FALSE(get.ok());
    EXPECT_EQ(get.status().code(), absl::StatusCode::kUnavailable) << get.status();
    auto pipe = client->Pipeline({{"SET", "big", big}, {"GET", "big"}});
    ASSERT_FALSE(pipe.ok());
    EXPECT_EQ(pipe.status().code(), absl::StatusCode::kUnavailable) << pipe.status();
    auto eval = client->Eval(script, {}, {});
    ASSERT_FALSE(eval.ok());
    EXPECT_EQ(eval.status().code(), absl::StatusCode::kUnavailable) << eval.status();
  }

  ASSERT_TRUE(server_->Restart().ok());
  absl::Status last;
  const bool recovered = testing::WaitFor(
      [&] {
        auto r = client->Command({"SET", "after", "2"});
        last = r.status();
        return r.ok();
      },
      milliseconds(10000));
  ASSERT_TRUE(recovered) << "still failing 10 s after the restart: " << last;
  EXPECT_EQ(MustCommand(*client, {"GET", "after"}).str, "2");
  auto eval = client->Eval(script, {}, {});  // the restarted server lost its script cache
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_EQ(eval->integer, 1);

  const std::string text = registry.Serialize();
  EXPECT_GE(testing::SeriesValue(text, "docket_redis_errors_total{kind=\"unavailable\"}"), 60) << text;
  EXPECT_GE(testing::SeriesValue(text, "docket_redis_reconnects_total"), 1) << text;
}

// hiredis writes with write(2): into a socket the peer has reset, that
// raises SIGPIPE, whose default action would kill this test process.
TEST_F(RedisClientTest, LargeWriteIntoAConnectionRedisClosedIsUnavailableNotSigpipe) {
  auto options = Options();
  options.pool_size = 1;
  auto client = Client(options);
  EXPECT_EQ(MustCommand(*client, {"PING"}).str, "PONG");
  ASSERT_TRUE(server_->Stop().ok());
  testutil::ExpectABigWriteToAGoneRedisIsUnavailableNotSigpipe(*client);
}

TEST_F(RedisClientTest, CommandTimeoutIsDeadlineExceededQuicklyAndTheLateReplyIsNeverMisread) {
  auto admin = Client();
  auto options = Options();
  options.pool_size = 1;  // the same slot must serve the call after the timeout
  options.command_timeout = milliseconds(200);
  auto client = Client(options);
  MustCommand(*client, {"SET", "a", "A"});
  MustCommand(*client, {"SET", "b", "B"});

  // CLIENT PAUSE returns at once and then holds every client's commands, so,
  // unlike DEBUG SLEEP from another thread, the stall is certain to have
  // started before our GET (and redis 7 disables DEBUG by default).
  EXPECT_EQ(MustCommand(*admin, {"CLIENT", "PAUSE", "1500", "ALL"}).str, "OK");
  const auto start = SteadyClock::now();
  auto slow = client->Command({"GET", "a"});
  const auto took = SteadyClock::now() - start;
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded) << slow.status();
  EXPECT_LT(took, milliseconds(1000)) << "should give up after ~200 ms, not wait for Redis";

  // After the pause the client answers again, and GET b gets B: the late
  // reply to GET a went away with the dropped connection.
  absl::StatusOr<Reply> b;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        b = client->Command({"GET", "b"});
        return b.ok();
      },
      milliseconds(5000)))
      << b.status();
  EXPECT_EQ(b->str, "B");
}

TEST_F(RedisClientTest, BusyPoolMakesAWaiterGiveUpWithDeadlineExceeded) {
  auto admin = Client();
  auto options = Options();
  options.pool_size = 1;
  options.acquire_timeout = milliseconds(100);
  options.command_timeout = milliseconds(5000);
  auto client = Client(options);
  std::thread holder([&] { MustCommand(*client, {"BLPOP", "never", "2"}); });
  // Wait until the only connection is really blocked in Redis.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto info = admin->Command({"INFO", "clients"});
        return info.ok() && info->str.find("blocked_clients:1") != std::string::npos;
      },
      milliseconds(5000)));
  const auto start = SteadyClock::now();
  auto r = client->Command({"PING"});
  const auto took = SteadyClock::now() - start;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_NE(r.status().message().find("no free connection"), std::string_view::npos);
  EXPECT_LT(took, milliseconds(1500));
  MustCommand(*admin, {"RPUSH", "never", "x"});  // release the holder early
  holder.join();
  EXPECT_EQ(MustCommand(*client, {"PING"}).str, "PONG");
}

TEST_F(RedisClientTest, EightThreadsSharingOneClientEachSeeTheirOwnWritesAndNoUpdateIsLost) {
  auto client = Client();  // pool_size 4 < 8 threads: calls queue for connections
  constexpr int kThreads = 8;
  constexpr int kOps = 300;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const std::string key = absl::StrCat("t", t, ":", i);
        const std::string value = absl::StrCat("v", t, "-", i);
        auto set = client->Command({"SET", key, value});
        auto get = client->Command({"GET", key});
        auto incr = client->Command({"INCR", "shared"});
        auto pipe = client->Pipeline({{"ECHO", key}, {"INCR", "shared"}});
        if (!set.ok() || !get.ok() || get->str != value || !incr.ok() || !pipe.ok() ||
            (*pipe)[0].str != key) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(MustCommand(*client, {"GET", "shared"}).str, std::to_string(kThreads * kOps * 2));
}

TEST_F(RedisClientTest, MetricsUseBoundedCommandLabels) {
  metrics::MetricsRegistry registry(metrics::BuildInfo{"redis_itest", "test", "test"});
  auto client = Client(Options(), &registry);
  MustCommand(*client, {"set", "k", "v"});
  MustCommand(*client, {"GET", "k"});
  MustCommand(*client, {"OBJECT", "ENCODING", "k"});
  ASSERT_TRUE(client->Pipeline({{"GET", "k"}, {"LPUSH", "k", "x"}}).ok());
  EXPECT_FALSE(client->Command({"LPUSH", "k", "x"}).ok());
  const std::string text = registry.Serialize();
  const std::string count = "docket_redis_command_duration_seconds_count";
  EXPECT_EQ(testing::SeriesValue(text, count + "{command=\"SET\"}"), 1) << text;  // "set" uppercased
  EXPECT_EQ(testing::SeriesValue(text, count + "{command=\"GET\"}"), 1);
  EXPECT_EQ(testing::SeriesValue(text, count + "{command=\"OTHER\"}"), 1);
  EXPECT_EQ(testing::SeriesValue(text, count + "{command=\"PIPELINE\"}"), 1);
  EXPECT_EQ(testing::SeriesValue(text, count + "{command=\"LPUSH\"}"), 1);
  EXPECT_EQ(text.find("command=\"OBJECT\""), std::string::npos);
  EXPECT_EQ(text.find("command=\"set\""), std::string::npos);
  // One error reply inside the pipeline, one to a command.
  EXPECT_EQ(testing::SeriesValue(text, "docket_redis_errors_total{kind=\"reply\"}"), 2) << text;
  EXPECT_EQ(testing::SeriesValue(text, "docket_redis_errors_total{kind=\"timeout\"}"), 0);
}

}  // namespace
}  // namespace docket::redis
