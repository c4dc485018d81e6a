// Crash test: a child process appends from several threads and is SIGKILLed at a random moment;
// every append it saw acknowledged must then be in the store, intact, dense and in order.
// All rounds use one store directory, so every recovery starts from a store that was itself
// recovered from a kill. HOLDFAST_CRASH_ROUNDS=<n> sets the number of rounds and
// HOLDFAST_CRASH_SEED=<seed> the seed of the random choices (kill delays cannot be replayed
// exactly: where a kill lands also depends on the scheduler).
//
// The child is this test binary run again (/proc/self/exe, filtered to this test, told by an
// environment variable to be the child) rather than a bare fork(): the parent has used RocksDB,
// and a forked child would inherit its static background thread pool without the threads.

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "broker/core/queue_store.h"
#include "storage/options.h"
#include "storage/rocks_queue_store.h"
#include "test/unit/storage/store_fixture.h"

extern char** environ;

namespace holdfast::storage {
namespace {

using core::Seq;

constexpr int kDefaultRounds = 25;
constexpr int kQueues = 4;  // a round runs 2..kQueues threads; thread t appends to queue t
constexpr int kMinKillDelayMs = 20;
constexpr int kMaxKillDelayMs = 300;
// How long the child may take to acknowledge its first append (ASan startup, RocksDB
// recovery) before the test gives up instead of hanging.
constexpr int kStartupTimeoutMs = 60'000;

// Environment of the child: its store path doubles as the "you are the child" flag.
constexpr char kChildPathEnv[] = "HOLDFAST_CRASH_CHILD";
constexpr char kChildFdEnv[] = "HOLDFAST_CRASH_FD";
constexpr char kChildThreadsEnv[] = "HOLDFAST_CRASH_THREADS";
constexpr char kChildStartEnv[] = "HOLDFAST_CRASH_START";  // first counter of each queue
constexpr char kChildSeedEnv[] = "HOLDFAST_CRASH_CHILD_SEED";

// One acknowledged message, written by the child to the pipe in a single write: writes of at
// most PIPE_BUF bytes are atomic, so the threads' acks never interleave.
struct Ack {
  std::uint32_t magic;
  std::uint32_t queue;
  std::uint64_t seq;
  std::uint64_t counter;
};
static_assert(sizeof(Ack) <= PIPE_BUF);
constexpr std::uint32_t kAckMagic = 0x21'4b'43'41;  // "ACK!"

std::string queue_name(int queue) {
  return "crash/q" + std::to_string(queue);
}

// FNV-1a with a splitmix64 finalizer, so that every input bit reaches every output bit: a
// torn or shifted payload cannot keep its hash by accident.
std::uint64_t hash64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
std::uint64_t get_u64(std::string_view in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

// Payload: counter (u64 LE) | queue (u64 LE) | 32..96 random bytes | hash64 of all before.
std::string make_payload(int queue, std::uint64_t counter, std::mt19937_64& rng) {
  std::string out;
  put_u64(out, counter);
  put_u64(out, static_cast<std::uint64_t>(queue));
  std::size_t random = std::uniform_int_distribution<std::size_t>(32, 96)(rng);
  for (std::size_t i = 0; i < random; ++i) out.push_back(static_cast<char>(rng()));
  put_u64(out, hash64(out));
  return out;
}

struct PayloadInfo {
  std::uint64_t counter = 0;
  std::uint64_t queue = 0;
};

std::optional<PayloadInfo> check_payload(std::string_view payload) {
  if (payload.size() < 16 + 32 + 8 || payload.size() > 16 + 96 + 8) return std::nullopt;
  std::string_view body = payload.substr(0, payload.size() - 8);
  if (hash64(body) != get_u64(payload.substr(body.size()))) return std::nullopt;
  return PayloadInfo{get_u64(payload), get_u64(payload.substr(8))};
}

std::optional<std::uint64_t> env_u64(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::strtoull(value, nullptr, 0);
}

// --- The child ---------------------------------------------------------------------------

[[noreturn]] void child_die(const std::string& why) {
  std::string line = "crash test child: " + why + "\n";
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
  _exit(2);
}

// Appends until killed. Never returns; exits (not via SIGKILL) only on an error, which the
// parent reports.
[[noreturn]] void child_main(const char* path) {
  auto fd = env_u64(kChildFdEnv);
  auto threads = env_u64(kChildThreadsEnv);
  auto seed = env_u64(kChildSeedEnv);
  const char* starts_text = std::getenv(kChildStartEnv);
  if (!fd || !threads || !seed || starts_text == nullptr) child_die("incomplete environment");
  std::array<std::uint64_t, kQueues> starts{};
  char* cursor = const_cast<char*>(starts_text);
  for (auto& start : starts) {
    start = std::strtoull(cursor, &cursor, 10);
    if (*cursor == ',') ++cursor;
  }

  StoreOptions options;  // sync = kFsync, the default
  options.path = path;
  options.min_free_disk_bytes = 0;
  auto store = RocksQueueStore::open(options);
  if (!store) child_die("cannot open the store: " + store.error().to_string());

  std::vector<std::thread> workers;
  for (int t = 0; t < static_cast<int>(*threads); ++t) {
    workers.emplace_back([&store, t, out = static_cast<int>(*fd), counter = starts[t],
                          rng = std::mt19937_64(*seed + static_cast<std::uint64_t>(t))]() mutable {
      while (true) {
        std::size_t n = std::uniform_int_distribution<std::size_t>(1, 4)(rng);
        std::vector<core::AppendRequest> batch(n);
        for (std::size_t i = 0; i < n; ++i) {
          batch[i].queue = queue_name(t);
          batch[i].message.address = queue_name(t);
          batch[i].message.payload = make_payload(t, counter + i, rng);
        }
        auto seqs = core::call_sync<std::vector<Seq>>(
            [&](auto done) { (*store)->append(std::move(batch), std::move(done)); });
        if (!seqs) child_die("append failed: " + seqs.error().to_string());
        if (seqs->size() != n) child_die("append returned the wrong number of seqs");
        for (std::size_t i = 0; i < n; ++i) {
          Ack ack{kAckMagic, static_cast<std::uint32_t>(t), (*seqs)[i], counter + i};
          if (::write(out, &ack, sizeof ack) != static_cast<ssize_t>(sizeof ack)) {
            child_die(std::string("cannot write an ack: ") + std::strerror(errno));
          }
        }
        counter += n;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  child_die("the appending threads stopped");
}

// --- The parent --------------------------------------------------------------------------

using testing::TempDir;

// Owns the child and the read end of its pipe; a failed assertion must not leave an
// appending child behind.
class Child {
 public:
  Child() = default;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  // Starts the child; false (with `error`) if it cannot.
  bool start(const std::string& store_path, int threads, std::uint64_t seed,
             const std::array<std::uint64_t, kQueues>& starts, std::string& error) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail("pipe2", error);
    fd_ = fds[0];
    // The child's copy of the write end: the only descriptor it inherits besides stdio.
    int write_fd = ::fcntl(fds[1], F_DUPFD, 10);
    ::close(fds[1]);
    if (write_fd < 0) return fail("fcntl", error);

    std::string starts_text;
    for (auto start : starts)
      starts_text += (starts_text.empty() ? "" : ",") + std::to_string(start);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      // GTEST_* (sharding, output files) could make the child skip the test or clobber files.
      if (entry.starts_with("GTEST_") || entry.starts_with("HOLDFAST_CRASH_")) continue;
      env.emplace_back(entry);
    }
    env.push_back(std::string(kChildPathEnv) + "=" + store_path);
    env.push_back(std::string(kChildFdEnv) + "=" + std::to_string(write_fd));
    env.push_back(std::string(kChildThreadsEnv) + "=" + std::to_string(threads));
    env.push_back(std::string(kChildStartEnv) + "=" + starts_text);
    env.push_back(std::string(kChildSeedEnv) + "=" + std::to_string(seed));
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
    std::string filter =
        std::string("--gtest_filter=") + test->test_suite_name() + "." + test->name();
    std::array<char*, 3> argv = {exe.data(), filter.data(), nullptr};

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // gtest's banner would repeat every round; the child's errors go to stderr.
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    int rc = ::posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(write_fd);  // now only the child holds it: EOF on the pipe means the child is gone
    if (rc != 0) {
      pid_ = 0;
      error = std::string("posix_spawn: ") + std::strerror(rc);
      return false;
    }
    return true;
  }

  // Reads whatever acks arrive within `timeout_ms` (-1: until some arrive); false on EOF.
  bool read_acks(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, timeout_ms);
    if (ready <= 0) return true;  // timeout, or EINTR: the caller loops
    char buffer[4096];
    ssize_t got = ::read(fd_, buffer, sizeof buffer);
    if (got == 0) return false;
    if (got < 0) return errno == EINTR || errno == EAGAIN;
    pending_.append(buffer, static_cast<std::size_t>(got));
    std::size_t whole = pending_.size() / sizeof(Ack) * sizeof(Ack);
    for (std::size_t at = 0; at < whole; at += sizeof(Ack)) {
      Ack ack;
      std::memcpy(&ack, pending_.data() + at, sizeof ack);
      acks_.push_back(ack);
    }
    pending_.erase(0, whole);
    return true;
  }

  // SIGKILLs the child and reaps it; returns its wait status, which says how it ended if it
  // had already ended on its own.
  int kill_and_reap() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = 0;
    return status;
  }

  const std::vector<Ack>& acks() const { return acks_; }
  std::size_t partial_bytes() const { return pending_.size(); }

 private:
  static bool fail(const char* what, std::string& error) {
    error = std::string(what) + ": " + std::strerror(errno);
    return false;
  }

  pid_t pid_ = 0;
  int fd_ = -1;
  std::string pending_;  // bytes of an ack not yet complete
  std::vector<Ack> acks_;
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

// Runs one child until it is killed `delay_ms` after its first acknowledged append; returns
// everything it acknowledged.
void run_child_round(const std::string& store_path, int threads, std::uint64_t child_seed,
                     int delay_ms, const std::array<std::uint64_t, kQueues>& starts,
                     std::vector<Ack>& acks) {
  Child child;
  std::string error;
  ASSERT_TRUE(child.start(store_path, threads, child_seed, starts, error)) << error;

  using Clock = std::chrono::steady_clock;
  auto remaining_ms = [](Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<std::int64_t>(0, left.count()));
  };
  // The first ack says the child is up and appending; the kill comes a random time later.
  auto startup_deadline = Clock::now() + std::chrono::milliseconds(kStartupTimeoutMs);
  bool open = true;
  while (open && child.acks().empty() && Clock::now() < startup_deadline) {
    open = child.read_acks(remaining_ms(startup_deadline));
  }
  if (child.acks().empty()) {
    int status = child.kill_and_reap();
    FAIL() << "the child acknowledged no append "
           << (open ? "within the startup timeout" : "before it ended") << "; it "
           << describe_status(status);
  }
  auto kill_at = Clock::now() + std::chrono::milliseconds(delay_ms);
  while (open && Clock::now() < kill_at) open = child.read_acks(remaining_ms(kill_at));
  int status = child.kill_and_reap();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended on its own before the kill: it " << describe_status(status);
  while (child.read_acks(-1)) {
  }
  ASSERT_EQ(child.partial_bytes(), 0u) << "an ack arrived torn";
  acks = child.acks();
}

core::Result<std::vector<core::StoredMessage>> read_all(RocksQueueStore& store,
                                                        const std::string& queue, Seq from,
                                                        Seq end) {
  std::vector<core::StoredMessage> all;
  while (from < end) {
    core::ReadRequest request;
    request.from = from;
    request.max_messages = 4096;
    request.max_bytes = 4 << 20;
    auto r = core::call_sync<core::ReadResult>(
        [&](auto done) { store.read(queue, request, std::move(done)); });
    if (!r) return core::error(r.error());
    if (r->messages.empty()) break;  // the caller sees the shortfall
    from = r->next;
    for (auto& m : r->messages) all.push_back(std::move(m));
  }
  return all;
}

// Opens the store after a kill and checks it against what the child acknowledged and against
// what earlier rounds verified. `present[q]` is the number of messages queue q held (and,
// because counters are dense, the next counter its appender must use).
void verify_store(const std::string& store_path, const std::vector<Ack>& acks,
                  std::array<std::uint64_t, kQueues>& present) {
  StoreOptions options;
  options.path = store_path;
  options.min_free_disk_bytes = 0;
  auto opened = RocksQueueStore::open(options);
  ASSERT_TRUE(opened.has_value()) << "reopening after the kill: " << opened.error().to_string();
  RocksQueueStore& store = **opened;

  auto queues = core::call_sync<std::vector<core::QueueStats>>(
      [&](auto done) { store.list_queues(std::move(done)); });
  ASSERT_TRUE(queues.has_value()) << queues.error().to_string();
  std::map<std::string, core::QueueStats> stats_by_name;
  for (auto& s : *queues) stats_by_name[s.name] = s;
  ASSERT_EQ(stats_by_name.size(), queues->size()) << "list_queues repeats a queue";

  std::map<std::uint32_t, std::vector<const Ack*>> acks_by_queue;
  for (const Ack& ack : acks) {
    ASSERT_EQ(ack.magic, kAckMagic) << "garbage on the ack pipe";
    ASSERT_LT(ack.queue, static_cast<std::uint32_t>(kQueues));
    acks_by_queue[ack.queue].push_back(&ack);
  }

  std::uint64_t total_messages = 0, total_bytes = 0;
  for (int q = 0; q < kQueues; ++q) {
    SCOPED_TRACE(queue_name(q));
    auto it = stats_by_name.find(queue_name(q));
    if (it == stats_by_name.end()) {
      EXPECT_EQ(present[q], 0u) << "a queue that held messages is gone";
      EXPECT_TRUE(acks_by_queue[q].empty()) << "a queue with acknowledged appends is missing";
      continue;
    }
    const core::QueueStats stats = it->second;
    stats_by_name.erase(it);
    // Nobody consumes: every message ever appended is still there, from seq 1.
    EXPECT_EQ(stats.head, 1u);
    EXPECT_EQ(stats.depth, stats.next - stats.head);
    EXPECT_EQ(stats.appended, stats.next - 1);
    EXPECT_EQ(stats.removed, 0u);
    EXPECT_TRUE(stats.cursors.empty());
    EXPECT_GE(stats.next - 1, present[q]) << "messages verified in an earlier round are gone";

    auto messages = read_all(store, queue_name(q), stats.head, stats.next);
    ASSERT_TRUE(messages.has_value()) << messages.error().to_string();
    ASSERT_EQ(messages->size(), stats.next - stats.head) << "stats and stored messages disagree";
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < messages->size(); ++i) {
      const core::StoredMessage& m = (*messages)[i];
      ASSERT_EQ(m.seq, stats.head + i) << "sequence numbers are not dense";
      EXPECT_EQ(m.message.address, queue_name(q));
      auto payload = check_payload(m.message.payload);
      ASSERT_TRUE(payload.has_value()) << "seq " << m.seq << ": payload damaged";
      EXPECT_EQ(payload->queue, static_cast<std::uint64_t>(q)) << "seq " << m.seq;
      // One appender per queue, appending and continuing counters in order: the counter of
      // seq s is s - 1.
      ASSERT_EQ(payload->counter, m.seq - 1) << "seq " << m.seq << ": out of order";
      bytes += m.stored_bytes;
    }
    EXPECT_EQ(stats.bytes, bytes) << "stats bytes differ from the stored bytes read";

    Seq last_acked = 0;
    for (const Ack* ack : acks_by_queue[q]) {
      ASSERT_GT(ack->seq, last_acked) << "acks of one appender out of order";
      last_acked = ack->seq;
      ASSERT_LT(ack->seq, stats.next) << "acknowledged seq " << ack->seq << " is missing";
      EXPECT_EQ(ack->counter, ack->seq - 1)
          << "acknowledged seq " << ack->seq << " was given to another message";
    }
    present[q] = stats.next - 1;
    total_messages += stats.depth;
    total_bytes += stats.bytes;
  }
  EXPECT_TRUE(stats_by_name.empty()) << "unexpected queue " << stats_by_name.begin()->first;

  auto store_stats =
      core::call_sync<core::StoreStats>([&](auto done) { store.store_stats(std::move(done)); });
  ASSERT_TRUE(store_stats.has_value()) << store_stats.error().to_string();
  EXPECT_EQ(store_stats->messages, total_messages);
  EXPECT_EQ(store_stats->bytes, total_bytes);
}

TEST(StorageCrash, AcknowledgedAppendsSurviveSigkill) {
  if (const char* path = std::getenv(kChildPathEnv)) child_main(path);

  int rounds = static_cast<int>(env_u64("HOLDFAST_CRASH_ROUNDS").value_or(kDefaultRounds));
  std::uint64_t seed = env_u64("HOLDFAST_CRASH_SEED").value_or(std::random_device{}());
  SCOPED_TRACE("seed " + std::to_string(seed) + " (HOLDFAST_CRASH_SEED)");
  std::mt19937_64 rng(seed);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty()) << "mkdtemp failed";
  std::string store_path = dir.path() + "/store";

  std::array<std::uint64_t, kQueues> present{};
  std::uint64_t acknowledged = 0;
  for (int round = 0; round < rounds; ++round) {
    int threads = std::uniform_int_distribution<int>(2, kQueues)(rng);
    int delay_ms = std::uniform_int_distribution<int>(kMinKillDelayMs, kMaxKillDelayMs)(rng);
    SCOPED_TRACE("round " + std::to_string(round) + ": " + std::to_string(threads) +
                 " threads, killed " + std::to_string(delay_ms) + " ms after the first ack");
    std::vector<Ack> acks;
    run_child_round(store_path, threads, rng(), delay_ms, present, acks);
    if (HasFatalFailure()) return;
    acknowledged += acks.size();
    verify_store(store_path, acks, present);
    if (HasFailure()) return;
  }
  std::uint64_t stored = 0;
  for (auto n : present) stored += n;
  std::printf("%d rounds: %llu appends acknowledged, %llu messages stored\n", rounds,
              static_cast<unsigned long long>(acknowledged),
              static_cast<unsigned long long>(stored));
}

}  // namespace
}  // namespace holdfast::storage
