#include "broker/core/fifo.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>

namespace holdfast::core {
namespace {

TEST(Fifo, BehavesLikeADequeUnderRandomUse) {
  std::mt19937 rng(11);
  Fifo<std::string> fifo;
  std::deque<std::string> model;
  for (int i = 0; i < 20000; ++i) {
    if (model.empty() || rng() % 3 != 0) {
      std::string v = std::to_string(i);
      fifo.push_back(v);
      model.push_back(v);
    } else {
      ASSERT_EQ(fifo.front(), model.front());
      fifo.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(fifo.size(), model.size());
    ASSERT_EQ(fifo.empty(), model.empty());
    if (!model.empty()) {
      std::size_t k = rng() % model.size();
      ASSERT_EQ(fifo[k], model[k]);
    }
  }
}

TEST(Fifo, DrainedQueueStartsOver) {
  Fifo<int> fifo;
  for (int i = 0; i < 1000; ++i) fifo.push_back(i);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(fifo.front(), i);
    fifo.pop_front();
  }
  EXPECT_TRUE(fifo.empty());
  fifo.push_back(7);
  EXPECT_EQ(fifo.front(), 7);
  EXPECT_EQ(fifo.size(), 1u);
}

}  // namespace
}  // namespace holdfast::core
