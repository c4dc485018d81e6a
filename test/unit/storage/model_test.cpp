// Randomized model test of RocksQueueStore: random operations run against the real store (in a
// fresh temp dir) and against a small in-memory model of the QueueStore contract; every result
// and every statistic must match, also after the store is closed and reopened. A seed that
// fails prints the operations that led to the failure; HOLDFAST_MODEL_SEED=<seed> replays it
// (and HOLDFAST_MODEL_OPS=<n> changes how many operations a seed runs).
//
// The model is deliberately naive (a map of every stored message) so that it is obviously
// right; the store keeps constant-size state per queue and must agree with it.

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "broker/core/queue_store.h"
#include "storage/options.h"
#include "storage/record.h"
#include "storage/rocks_queue_store.h"
#include "test/unit/storage/queue_model.h"
#include "test/unit/storage/store_fixture.h"

namespace holdfast::storage {
namespace {

using namespace model;  // NOLINT: the model and its comparisons

using core::Code;
using core::Result;
using core::Seq;

constexpr int kSeeds = 20;
constexpr int kPipelinedSeeds = 10;
constexpr int kOpsPerSeed = 400;
constexpr double kReopenChance = 0.0075;  // ~3 per seed: an open costs ~100 ms under ASan
constexpr std::size_t kLogTail = 60;      // operations printed when a seed fails

std::optional<std::uint64_t> env_u64(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::strtoull(value, nullptr, 0);
}

// The seeds of one test: a fresh random set each run (so runs explore different sequences),
// or the one seed from HOLDFAST_MODEL_SEED to replay a failure.
std::vector<std::uint64_t> seeds(int count) {
  if (auto seed = env_u64("HOLDFAST_MODEL_SEED")) return {*seed};
  std::random_device device;
  std::vector<std::uint64_t> out;
  for (int i = 0; i < count; ++i) {
    out.push_back((std::uint64_t{device()} << 32) | device());
  }
  return out;
}

using testing::TempDir;

// --- The run of one seed -----------------------------------------------------------------

class ModelRun {
 public:
  // `pipelined`: issue groups of operations without waiting for each one, so that several land
  // in one store round (group commit); the contract still runs them in call order.
  ModelRun(std::uint64_t seed, bool pipelined) : rng_(seed), pipelined_(pipelined) {
    queues_ = {"dev/1/telemetry", "dev/2/telemetry", "weird queue \xc3\xa9/+/#",
               std::string(1024, 'L')};  // the longest name allowed
    cursors_ = {"c0", "c1", "consumer/2"};
    clock_ = std::make_shared<std::atomic<std::int64_t>>(1'700'000'000'000);
    options_.path = dir_.path() + "/store";
    options_.sync = SyncMode::kOs;
    options_.min_free_disk_bytes = 0;
    // Small memtables flush often, so reads and range deletes also cross SST files.
    options_.write_buffer_bytes = 64 << 10;
    options_.clock = [clock = clock_] { return clock->load(); };
  }

  void run(int ops) {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
    open();
    if (::testing::Test::HasFatalFailure()) return;
    for (int i = 0; i < ops && !::testing::Test::HasFailure();) {
      if (pipelined_) {
        // Mutations and queries interleaved, issued without waiting.
        int group = static_cast<int>(uniform(1, 8));
        log_.push_back("-- group of " + std::to_string(group));
        for (int j = 0; j < group; ++j) random_op(OpKind::kAny);
        settle();
        i += group;
      } else {
        random_op(OpKind::kAny);
        ++i;
      }
      clock_->fetch_add(static_cast<std::int64_t>(uniform(0, 50)));
      if (!::testing::Test::HasFailure() && chance(kReopenChance)) reopen();
    }
    if (!::testing::Test::HasFailure()) verify_all("at the end");
    if (::testing::Test::HasFailure()) dump_log();
    store_.reset();
  }

 private:
  // --- randomness
  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    for (char& c : out) c = chance(0.1) ? '\0' : static_cast<char>(uniform(0, 255));
    return out;
  }
  std::string maybe_bytes(double p, std::size_t max) {
    return chance(p) ? random_bytes(uniform(1, max)) : std::string();
  }
  std::size_t pick_queue() { return uniform(0, queues_.size() - 1); }
  std::string pick_cursor() { return cursors_[uniform(0, cursors_.size() - 1)]; }
  std::string invalid_name() {
    switch (uniform(0, 2)) {
      case 0:
        return "";
      case 1:
        return std::string("nul\0inside", 10);
      default:
        return std::string(1025, 'x');
    }
  }
  std::string alias(const std::string& queue) const {
    for (std::size_t i = 0; i < queues_.size(); ++i) {
      if (queues_[i] == queue) return "Q" + std::to_string(i);
    }
    return "<invalid name, " + std::to_string(queue.size()) + " bytes>";
  }

  core::Message random_message() {
    core::Message m;
    m.address = chance(0.8) ? queues_[pick_queue()].substr(0, 30) : random_bytes(uniform(0, 20));
    m.payload = random_bytes(chance(0.05) ? uniform(1000, 6000) : uniform(0, 200));
    core::Properties& p = m.properties;
    p.message_id = maybe_bytes(0.4, 24);
    p.correlation_id = maybe_bytes(0.2, 24);
    p.content_type = chance(0.3) ? "application/json" : "";
    p.content_encoding = maybe_bytes(0.1, 8);
    if (chance(0.3)) {
      // Zero and negative times are legitimate values a sender may set.
      p.creation_time_ms = static_cast<std::int64_t>(uniform(0, 3'000'000'000'000)) -
                           static_cast<std::int64_t>(uniform(0, 1) * 1'500'000'000'000);
    }
    for (std::uint64_t i = uniform(0, 3); i > 0; --i) {
      std::string key = chance(0.5) ? "k" : random_bytes(uniform(0, 6));  // keys may repeat
      p.user.emplace_back(std::move(key), random_bytes(uniform(0, 12)));
    }
    m.origin.protocol = static_cast<core::Protocol>(uniform(0, 4));
    m.origin.client_id = maybe_bytes(0.6, 16);
    m.origin.device_id = maybe_bytes(0.4, 16);
    // 0 means "now": the store stamps it with its clock.
    m.received_at_ms = chance(0.5) ? 0 : static_cast<std::int64_t>(uniform(1, 2'000'000'000'000));
    if (chance(0.2)) m.amqp_bare = random_bytes(uniform(0, 40));  // present but empty counts too
    return m;
  }

  std::size_t random_max_messages() {
    auto r = uniform(0, 99);
    if (r < 5) return 0;
    if (r < 70) return uniform(1, 10);
    if (r < 85) return 100;
    return std::numeric_limits<std::size_t>::max();
  }
  std::size_t random_max_bytes() {
    auto r = uniform(0, 99);
    if (r < 10) return 0;
    if (r < 20) return 1;
    if (r < 50) return uniform(1, 600);
    if (r < 75) return uniform(600, 6000);
    return 1 << 20;
  }

  // --- operations: each issues the call and checks its result against the model, in call
  // order, once it has completed (at once, or at settle() when pipelined)

  template <typename T, typename Start, typename Check>
  void issue(std::string description, Start start, Check check) {
    log_.push_back(std::move(description));
    if (!pipelined_) {
      SCOPED_TRACE(log_.back());
      check(core::call_sync<T>(std::move(start)));
      return;
    }
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    start(
        core::Callback<T>([promise](Result<T> result) { promise->set_value(std::move(result)); }));
    pending_.push_back([this, future = std::move(future), check = std::move(check),
                        index = log_.size() - 1]() mutable {
      SCOPED_TRACE(log_[index]);
      check(future.get());
    });
  }

  void settle() {
    // Every pending result is collected, even after a failure, so no callback outlives them.
    for (auto& check : pending_) check();
    pending_.clear();
    settled_next_.clear();
    for (const auto& queue : queues_) {
      if (const ModelQueue* q = model_.find(queue)) settled_next_[queue] = q->next;
    }
  }

  // Messages below this are durable whatever is in flight: when not pipelined, everything.
  Seq durable_floor(const std::string& queue) const {
    if (!pipelined_) return std::numeric_limits<Seq>::max();
    auto it = settled_next_.find(queue);
    return it == settled_next_.end() ? 0 : it->second;
  }

  enum class OpKind { kAny, kMutation, kQuery };

  void random_op(OpKind kind) {
    struct Choice {
      double weight;
      bool mutation;
      void (ModelRun::*run)();
    };
    static const Choice choices[] = {
        {30, true, &ModelRun::op_append},       {14, false, &ModelRun::op_read_cursor},
        {10, false, &ModelRun::op_read_from},   {16, true, &ModelRun::op_commit},
        {5, true, &ModelRun::op_create_cursor}, {4, true, &ModelRun::op_delete_cursor},
        {2, true, &ModelRun::op_purge},         {6, false, &ModelRun::op_queue_stats},
        {3, false, &ModelRun::op_list_queues},  {2, false, &ModelRun::op_store_stats},
        {2, true, &ModelRun::op_retention},
    };
    std::vector<double> weights;
    for (const Choice& c : choices) {
      bool wanted = kind == OpKind::kAny || c.mutation == (kind == OpKind::kMutation);
      weights.push_back(wanted ? c.weight : 0);
    }
    std::discrete_distribution<std::size_t> pick(weights.begin(), weights.end());
    (this->*choices[pick(rng_)].run)();
  }

  void op_read_cursor() { op_read(false); }
  void op_read_from() { op_read(true); }

  void op_append() {
    std::vector<std::size_t> targets(queues_.size());
    for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = i;
    std::shuffle(targets.begin(), targets.end(), rng_);
    targets.resize(uniform(1, 3));
    std::vector<core::AppendRequest> batch;
    std::string description = "append";
    std::size_t count = chance(0.01) ? 0 : uniform(1, 5);
    for (std::size_t i = 0; i < count; ++i) {
      batch.push_back({queues_[targets[uniform(0, targets.size() - 1)]], random_message(), {}});
    }
    if (chance(0.03)) {
      // One bad name rejects the whole batch: appends are all or nothing.
      batch.insert(batch.begin() + static_cast<std::ptrdiff_t>(uniform(0, batch.size())),
                   {invalid_name(), random_message(), {}});
    }
    std::vector<core::AppendRequest> expected = batch;
    for (auto& request : expected) {
      if (request.message.received_at_ms == 0) request.message.received_at_ms = clock_->load();
      description +=
          " " + alias(request.queue) + ":" + std::to_string(request.message.payload.size()) + "B";
    }
    issue<std::vector<Seq>>(
        description,
        [this, batch = std::move(batch)](core::Callback<std::vector<Seq>> done) mutable {
          store_->append(std::move(batch), std::move(done));
        },
        [this, expected = std::move(expected)](const Result<std::vector<Seq>>& actual) {
          auto want = model_.append(expected);
          if (want) {
            appended_since_open_ += want->size();
          } else {
            ++rejected_since_open_;
          }
          expect_result(actual, want, [](const auto& a, const auto& e) {
            EXPECT_EQ(a, e) << "sequence numbers";
          });
        });
  }

  void op_read(bool from_seq) {
    std::string queue = queues_[pick_queue()];
    core::ReadRequest request;
    if (from_seq) {
      const ModelQueue* q = model_.find(queue);
      // Below the head (skipped), inside the queue, or past its end.
      request.from = uniform(1, (q ? q->next : 1) + 2);
    } else {
      request.cursor = pick_cursor();
    }
    request.max_messages = random_max_messages();
    request.max_bytes = random_max_bytes();
    std::string description =
        "read " + alias(queue) + " " +
        (from_seq ? "from=" + std::to_string(request.from) : "cursor=" + request.cursor) +
        " max_messages=" + std::to_string(request.max_messages) +
        " max_bytes=" + std::to_string(request.max_bytes);
    issue<core::ReadResult>(
        description,
        [this, queue, request](core::Callback<core::ReadResult> done) {
          store_->read(queue, request, std::move(done));
        },
        [this, queue, request,
         floor = durable_floor(queue)](const Result<core::ReadResult>& actual) {
          expect_result(actual, model_.read(queue, request),
                        [floor](const core::ReadResult& a, const core::ReadResult& e) {
                          expect_read_prefix(a, e, floor);
                        });
        });
  }

  void op_commit() {
    std::string queue = queues_[pick_queue()];
    std::string cursor = chance(0.03) ? invalid_name() : pick_cursor();
    Seq upto = uniform(0, 5);
    if (const ModelQueue* q = model_.find(queue)) {
      auto r = uniform(0, 99);
      auto c = q->cursors.find(cursor);
      Seq position = c == q->cursors.end() ? q->head : q->position(c->second);
      if (r < 40) {
        upto = uniform(0, q->next - 1);
      } else if (r < 92) {
        // Close to the cursor: small steps, and commits below its position (no-ops).
        Seq hi = std::min(position + 4, q->next - 1);
        upto = uniform(std::min(position >= 2 ? position - 2 : 0, hi), hi);
      } else {
        upto = uniform(q->next, q->next + 3);  // not yet appended
      }
    }
    issue<Seq>(
        "commit " + alias(queue) + " cursor=" + alias_cursor(cursor) +
            " upto=" + std::to_string(upto),
        [this, queue, cursor, upto](core::Callback<Seq> done) {
          store_->commit(queue, cursor, upto, std::move(done));
        },
        [this, queue, cursor, upto](const Result<Seq>& actual) {
          expect_result(actual, model_.commit(queue, cursor, upto),
                        [](Seq a, Seq e) { EXPECT_EQ(a, e) << "cursor position"; });
        });
  }

  void op_create_cursor() {
    std::string queue = chance(0.03) ? invalid_name() : queues_[pick_queue()];
    std::string cursor = chance(0.03) ? invalid_name() : pick_cursor();
    issue<Seq>(
        "create_cursor " + alias(queue) + " cursor=" + alias_cursor(cursor),
        [this, queue, cursor](core::Callback<Seq> done) {
          store_->create_cursor(queue, cursor, std::move(done));
        },
        [this, queue, cursor](const Result<Seq>& actual) {
          expect_result(actual, model_.create_cursor(queue, cursor),
                        [](Seq a, Seq e) { EXPECT_EQ(a, e) << "cursor position"; });
        });
  }

  void op_delete_cursor() {
    std::string queue = queues_[pick_queue()];
    std::string cursor = pick_cursor();
    issue<void>(
        "delete_cursor " + alias(queue) + " cursor=" + cursor,
        [this, queue, cursor](core::Callback<void> done) {
          store_->delete_cursor(queue, cursor, std::move(done));
        },
        [this, queue, cursor](const Result<void>& actual) {
          expect_result(actual, model_.delete_cursor(queue, cursor), [] {});
        });
  }

  void op_purge() {
    std::string queue = queues_[pick_queue()];
    issue<std::uint64_t>(
        "purge " + alias(queue),
        [this, queue](core::Callback<std::uint64_t> done) {
          store_->purge(queue, std::move(done));
        },
        [this, queue](const Result<std::uint64_t>& actual) {
          expect_result(actual, model_.purge(queue), [](std::uint64_t a, std::uint64_t e) {
            EXPECT_EQ(a, e) << "purged count";
          });
        });
  }

  void op_queue_stats() {
    std::string queue = queues_[pick_queue()];
    issue<core::QueueStats>(
        "queue_stats " + alias(queue),
        [this, queue](core::Callback<core::QueueStats> done) {
          store_->queue_stats(queue, std::move(done));
        },
        [this, queue](const Result<core::QueueStats>& actual) {
          expect_result(actual, model_.queue_stats(queue), expect_stats_eq);
        });
  }

  void op_list_queues() {
    issue<std::vector<core::QueueStats>>(
        "list_queues",
        [this](core::Callback<std::vector<core::QueueStats>> done) {
          store_->list_queues(std::move(done));
        },
        [this](const Result<std::vector<core::QueueStats>>& actual) {
          expect_result(actual, Result<std::vector<core::QueueStats>>(model_.list_queues()),
                        expect_queue_list_eq);
        });
  }

  void op_store_stats() {
    issue<core::StoreStats>(
        "store_stats",
        [this](core::Callback<core::StoreStats> done) { store_->store_stats(std::move(done)); },
        [this](const Result<core::StoreStats>& actual) {
          ASSERT_TRUE(actual.has_value()) << actual.error().to_string();
          EXPECT_EQ(actual->queues, model_.queues().size());
          EXPECT_EQ(actual->messages, model_.messages());
          EXPECT_EQ(actual->bytes, model_.bytes());
          EXPECT_EQ(actual->quota_bytes, 0u);
          EXPECT_EQ(actual->appended_messages, appended_since_open_);
          EXPECT_EQ(actual->rejected_appends, rejected_since_open_);
          EXPECT_EQ(actual->synced_batches, 0u) << "sync mode os never waits for fsync";
          EXPECT_LE(actual->max_batch_messages, options_.max_batch_messages);
        });
  }

  // Deletes consumed records now instead of in chunks; nothing visible may change.
  void op_retention() {
    issue<void>(
        "run_retention",
        [this](core::Callback<void> done) { store_->run_retention(std::move(done)); },
        [](const Result<void>& actual) {
          EXPECT_TRUE(actual.has_value()) << actual.error().to_string();
        });
  }

  static void expect_queue_list_eq(const std::vector<core::QueueStats>& actual,
                                   const std::vector<core::QueueStats>& expected) {
    ASSERT_EQ(actual.size(), expected.size()) << "number of queues";
    for (std::size_t i = 0; i < actual.size(); ++i) expect_stats_eq(actual[i], expected[i]);
  }

  std::string alias_cursor(const std::string& cursor) const {
    return valid_name(cursor) ? cursor
                              : "<invalid name, " + std::to_string(cursor.size()) + " bytes>";
  }

  // --- whole-store checks

  void open() {
    auto store = RocksQueueStore::open(options_);
    ASSERT_TRUE(store.has_value()) << store.error().to_string();
    store_ = std::move(*store);
    appended_since_open_ = 0;
    rejected_since_open_ = 0;
  }

  void reopen() {
    log_.push_back("reopen");
    store_.reset();
    open();
    if (!::testing::Test::HasFatalFailure()) verify_all("after reopen");
  }

  // Every queue, its statistics and every stored message, read in one go.
  void verify_all(const std::string& when) {
    SCOPED_TRACE("verifying the whole store " + when);
    bool was_pipelined = std::exchange(pipelined_, false);
    op_list_queues();
    op_store_stats();
    for (const auto& [name, q] : model_.queues()) {
      core::ReadRequest all;
      all.from = q.head;
      all.max_messages = std::numeric_limits<std::size_t>::max();
      all.max_bytes = std::numeric_limits<std::size_t>::max();
      std::string queue = name;
      issue<core::ReadResult>(
          "read all of " + alias(queue),
          [this, queue, all](core::Callback<core::ReadResult> done) {
            store_->read(queue, all, std::move(done));
          },
          [this, queue, all](const Result<core::ReadResult>& actual) {
            expect_result(actual, model_.read(queue, all), expect_read_eq);
          });
    }
    pipelined_ = was_pipelined;
  }

  void dump_log() {
    std::size_t from = log_.size() > kLogTail ? log_.size() - kLogTail : 0;
    std::string out = "last operations (of " + std::to_string(log_.size()) + "):\n";
    for (std::size_t i = from; i < log_.size(); ++i) {
      out += "  #" + std::to_string(i) + " " + log_[i] + "\n";
    }
    std::fputs(out.c_str(), stderr);
  }

  std::mt19937_64 rng_;
  bool pipelined_;
  std::map<std::string, Seq> settled_next_;  // model next of each queue at the last settle()
  TempDir dir_;
  StoreOptions options_;
  std::shared_ptr<std::atomic<std::int64_t>> clock_;
  std::unique_ptr<RocksQueueStore> store_;
  Model model_;
  std::vector<std::string> queues_;
  std::vector<std::string> cursors_;
  std::uint64_t appended_since_open_ = 0;
  std::uint64_t rejected_since_open_ = 0;
  std::vector<std::string> log_;
  std::vector<std::move_only_function<void()>> pending_;
};

void run_seeds(int count, bool pipelined) {
  int ops = static_cast<int>(env_u64("HOLDFAST_MODEL_OPS").value_or(kOpsPerSeed));
  for (std::uint64_t seed : seeds(count)) {
    SCOPED_TRACE("seed " + std::to_string(seed) +
                 " (replay with HOLDFAST_MODEL_SEED=" + std::to_string(seed) + ")");
    ModelRun(seed, pipelined).run(ops);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(StorageModel, RandomOperationsMatchTheModel) {
  run_seeds(kSeeds, false);
}

// Operations issued back to back without waiting share store rounds; they must still behave
// as if run one at a time in call order (the QueueStore contract).
TEST(StorageModel, PipelinedOperationsMatchTheModelInCallOrder) {
  run_seeds(kPipelinedSeeds, true);
}

}  // namespace
}  // namespace holdfast::storage
