// Sampling limited to the tokenizer's vocabulary, and the tokenizer-against-model check that
// `anvil generate` and the trainer's samples share.
#include <gtest/gtest.h>

#include "core/base/error.h"
#include "tests/support/test_paths.h"
#include "train/generate.h"

namespace anvil::train {
namespace {

namespace fs = std::filesystem;

TEST(SampleFromLogits, VocabLimitKeepsEveryDrawBelowTheLimit) {
  // The two most likely ids (3 and 4) are beyond a 3-token tokenizer.
  const std::vector<float> logits = {0.0f, 0.5f, 0.2f, 9.0f, 9.0f};
  SamplingOptions greedy;
  greedy.temperature = 0;
  EXPECT_EQ(sample_from_logits(logits, greedy, 0.5f), 3u);
  greedy.vocab_limit = 3;
  EXPECT_EQ(sample_from_logits(logits, greedy, 0.5f), 1u);
  for (float top_p : {1.0f, 0.5f}) {
    SamplingOptions o;
    o.temperature = 1.0f;
    o.top_p = top_p;
    o.vocab_limit = 3;
    for (int i = 0; i < 100; ++i) EXPECT_LT(sample_from_logits(logits, o, float(i) / 100.0f), 3u);
  }
  SamplingOptions wide;  // a limit at or above V changes nothing
  wide.temperature = 0;
  wide.vocab_limit = 5;
  EXPECT_EQ(sample_from_logits(logits, wide, 0.5f), 3u);
}

TEST(CheckTokenizerFitsModel, LargerIsAnErrorNamingTheFileAndBothSizes) {
  const fs::path dir = test::shared_dir() / "data/gpt2-tokenizer";
  const data::BpeTokenizer tok = data::BpeTokenizer::load(dir);
  ASSERT_EQ(tok.vocab_size(), 50257);
  try {
    check_tokenizer_fits_model(tok, dir, 384);
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find((dir / "vocab.json").string()), std::string::npos) << what;
    EXPECT_NE(what.find("50257"), std::string::npos) << what;
    EXPECT_NE(what.find("384"), std::string::npos) << what;
  }
  // The padded GPT-2 vocabulary (50304) holds it: sampling is limited to the tokenizer's ids.
  EXPECT_EQ(check_tokenizer_fits_model(tok, dir, 50304), 50257);
  EXPECT_EQ(check_tokenizer_fits_model(tok, dir, 50257), 50257);
}

}  // namespace
}  // namespace anvil::train
