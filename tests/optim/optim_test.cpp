// Optimizers, lr schedules, clipping and parameter grouping against textbook formulas in double.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/ops/ops.h"
#include "optim/optim.h"
#include "tests/support/gradcheck.h"

namespace anvil::optim {
namespace {

using test::random_tensor;

std::vector<double> to_double(const Tensor& t) {
  std::vector<float> f = t.to_f32_vector();
  return std::vector<double>(f.begin(), f.end());
}

Tensor named_param(const Shape& shape, Generator& gen, const std::string& name) {
  Tensor p = random_tensor(shape, gen);
  p.set_requires_grad(true);
  p.set_name(name);
  return p;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], rel * std::max(1.0, std::abs(want[i]))) << what << " element " << i;
}

// ---- AdamW ---------------------------------------------------------------------------------------

struct AdamRef {
  std::vector<double> p, m, v;
};

// The textbook AdamW step (Loshchilov & Hutter with PyTorch's decoupled decay), in double.
void adamw_reference_step(AdamRef& s, const std::vector<double>& g, double lr, double b1, double b2, double eps,
                          double wd, int64_t t) {
  for (size_t i = 0; i < s.p.size(); ++i) {
    s.p[i] -= lr * wd * s.p[i];
    s.m[i] = b1 * s.m[i] + (1 - b1) * g[i];
    s.v[i] = b2 * s.v[i] + (1 - b2) * g[i] * g[i];
    const double m_hat = s.m[i] / (1 - std::pow(b1, double(t)));
    const double v_hat = s.v[i] / (1 - std::pow(b2, double(t)));
    s.p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
  }
}

TEST(AdamW, MatchesTextbookUpdateWithDecayAndBiasCorrection) {
  Generator gen(11);
  Tensor w = named_param({4, 3}, gen, "w");
  Tensor b = named_param({3}, gen, "b");
  const double wd = 0.1, b1 = 0.9, b2 = 0.95, eps = 1e-8;
  auto opt = make_adamw({{{w}, float(wd), "decay"}, {{b}, 0.0f, "no_decay"}}, float(b1), float(b2), float(eps));

  AdamRef rw{to_double(w), std::vector<double>(12, 0.0), std::vector<double>(12, 0.0)};
  AdamRef rb{to_double(b), std::vector<double>(3, 0.0), std::vector<double>(3, 0.0)};
  const float lrs[] = {1e-2f, 3e-2f, 2e-2f, 5e-3f, 1e-2f};
  for (int64_t t = 1; t <= 5; ++t) {
    const double lr = lrs[t - 1];
    Tensor gw = random_tensor({4, 3}, gen, -2.0f, 2.0f);
    w.set_grad(gw);
    adamw_reference_step(rw, to_double(gw), lr, b1, b2, eps, wd, t);
    // On step 3 the bias gets no gradient: it and its moments must stay put.
    if (t != 3) {
      Tensor gb = random_tensor({3}, gen, -0.1f, 0.1f);
      b.set_grad(gb);
      adamw_reference_step(rb, to_double(gb), lr, b1, b2, eps, 0.0, t);
    } else {
      b.zero_grad();
    }
    opt->step(float(lr));
    EXPECT_EQ(opt->step_count(), t);
    expect_close(w.to_f32_vector(), rw.p, 2e-6, "w step " + std::to_string(t));
    expect_close(b.to_f32_vector(), rb.p, 2e-6, "b step " + std::to_string(t));
  }
  auto state = opt->state_tensors();
  ASSERT_EQ(state.size(), 4u);
  expect_close(state.at("m.w").to_f32_vector(), rw.m, 1e-6, "m.w");
  expect_close(state.at("v.w").to_f32_vector(), rw.v, 1e-6, "v.w");
  expect_close(state.at("m.b").to_f32_vector(), rb.m, 1e-6, "m.b");
  expect_close(state.at("v.b").to_f32_vector(), rb.v, 1e-6, "v.b");
  EXPECT_EQ(opt->state_scalars()["step"].get<int64_t>(), 5);

  // Weight decay alone (zero gradient) shrinks a decayed parameter by exactly (1 - lr*wd).
  std::vector<float> before = w.to_f32_vector();
  w.set_grad(Tensor::zeros({4, 3}));
  b.zero_grad();
  opt->step(0.5f);
  std::vector<float> after = w.to_f32_vector();
  auto m_after = opt->state_tensors().at("m.w").to_f32_vector();
  auto v_after = opt->state_tensors().at("v.w").to_f32_vector();
  for (size_t i = 0; i < before.size(); ++i) {
    // Remaining Adam drift from the non-zero moments, computed the textbook way.
    const double m_hat = m_after[i] / (1 - std::pow(b1, 6.0)), v_hat = v_after[i] / (1 - std::pow(b2, 6.0));
    const double want = before[i] * (1 - 0.5 * wd) - 0.5 * m_hat / (std::sqrt(v_hat) + eps);
    EXPECT_NEAR(after[i], want, 2e-6 * std::max(1.0, std::abs(want)));
  }
}

TEST(AdamW, FitsLinearRegressionBuiltFromOps) {
  Generator gen(21);
  const int64_t n = 64;
  Tensor x = random_tensor({n, 3}, gen);
  Tensor w_true = Tensor::from_vector({1.5f, -2.0f, 0.5f}, {3, 1});
  Tensor y = ops::add_scalar(ops::matmul(x, w_true), 0.7f);  // (N, 1)
  Tensor w = Tensor::zeros({3, 1}).set_requires_grad(true).set_name("w");
  Tensor bias = Tensor::zeros({1}).set_requires_grad(true).set_name("bias");
  auto opt = make_adamw(default_param_groups({{"w", w}, {"bias", bias}}, 0.0f), 0.9f, 0.999f, 1e-8f);

  auto loss_fn = [&] {
    Tensor err = ops::sub(ops::add(ops::matmul(x, w), bias), y);
    return ops::mean(ops::mul(err, err));
  };
  const float first_loss = loss_fn().item();
  for (int i = 0; i < 600; ++i) {
    opt->zero_grad();
    EXPECT_FALSE(w.grad().defined());
    Tensor loss = loss_fn();
    loss.backward();
    opt->step(0.05f);
  }
  const float final_loss = loss_fn().item();
  EXPECT_GT(first_loss, 1.0f);
  EXPECT_LT(final_loss, 1e-5f);
  expect_close(w.to_f32_vector(), {1.5, -2.0, 0.5}, 5e-3, "w");
  EXPECT_NEAR(bias.item(), 0.7f, 5e-3f);
}

// ---- SGD -------------------------------------------------------------------------------------------

void sgd_momentum_reference(bool nesterov) {
  Generator gen(nesterov ? 31 : 32);
  Tensor p = named_param({5, 2}, gen, "p");
  const double lr = 0.1, mu = 0.9, wd = 0.01;
  auto opt = make_sgd({{{p}, float(wd), "all"}}, float(mu), nesterov);
  std::vector<double> ref = to_double(p), buf(10, 0.0);
  for (int t = 0; t < 4; ++t) {
    Tensor g = random_tensor({5, 2}, gen);
    p.set_grad(g);
    std::vector<double> gd = to_double(g);
    for (size_t i = 0; i < ref.size(); ++i) {
      const double gi = gd[i] + wd * ref[i];
      buf[i] = t == 0 ? gi : mu * buf[i] + gi;  // torch.optim.SGD: the first buffer is the gradient
      ref[i] -= lr * (nesterov ? gi + mu * buf[i] : buf[i]);
    }
    opt->step(float(lr));
    expect_close(p.to_f32_vector(), ref, 1e-6, "p step " + std::to_string(t));
  }
  expect_close(opt->state_tensors().at("momentum.p").to_f32_vector(), buf, 1e-6, "momentum buffer");
}

TEST(Sgd, MomentumMatchesReference) { sgd_momentum_reference(false); }
TEST(Sgd, NesterovMatchesReference) { sgd_momentum_reference(true); }

TEST(Sgd, PlainStepHasNoState) {
  Tensor p = Tensor::from_vector({1.0f, -2.0f}, {2}).set_requires_grad(true).set_name("p");
  auto opt = make_sgd({{{p}, 0.0f, "all"}}, 0.0f);
  p.set_grad(Tensor::from_vector({0.5f, 4.0f}, {2}));
  opt->step(0.5f);
  EXPECT_EQ(p.to_f32_vector(), (std::vector<float>{0.75f, -4.0f}));
  EXPECT_TRUE(opt->state_tensors().empty());
}

// ---- schedules -------------------------------------------------------------------------------------

TEST(Schedule, WarmupIsLinearFromLrOverWarmup) {
  for (const char* name : {"constant", "cosine", "linear", "wsd"}) {
    ScheduleOptions o{name, 0.01f, 10, 100, 0.1f, 0.2f};
    for (int64_t s = 0; s < 10; ++s) EXPECT_FLOAT_EQ(learning_rate(o, s), 0.01f * float(s + 1) / 10.0f) << name;
    EXPECT_FLOAT_EQ(learning_rate(o, 10), 0.01f) << name;  // the first post-warmup step is the peak
  }
}

TEST(Schedule, CosineAndLinearDecayMonotonicallyToMin) {
  for (const char* name : {"cosine", "linear"}) {
    ScheduleOptions o{name, 1.0f, 20, 220, 0.1f, 0.0f};
    float prev = learning_rate(o, 20);
    for (int64_t s = 21; s <= 220; ++s) {
      const float lr = learning_rate(o, s);
      EXPECT_LT(lr, prev) << name << " step " << s;
      prev = lr;
    }
    EXPECT_FLOAT_EQ(learning_rate(o, 220), 0.1f) << name;
    EXPECT_FLOAT_EQ(learning_rate(o, 5000), 0.1f) << name;
    EXPECT_NEAR(learning_rate(o, 120), 0.55f, 1e-6f) << name;  // halfway: mean of peak and min for both
  }
  ScheduleOptions cosine{"cosine", 1.0f, 20, 220, 0.1f, 0.0f};
  const double at_quarter = 0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * 0.25));
  EXPECT_NEAR(learning_rate(cosine, 70), at_quarter, 1e-6);
  ScheduleOptions linear{"linear", 1.0f, 20, 220, 0.1f, 0.0f};
  EXPECT_NEAR(learning_rate(linear, 70), 1.0 - 0.9 * 0.25, 1e-6);
}

TEST(Schedule, ConstantStaysAtLr) {
  ScheduleOptions o{"constant", 0.003f, 5, 50, 0.0f, 0.0f};
  for (int64_t s = 5; s < 80; ++s) EXPECT_EQ(learning_rate(o, s), 0.003f);
}

TEST(Schedule, WsdHasPlateauThenLinearDecay) {
  ScheduleOptions o{"wsd", 0.02f, 10, 100, 0.0f, 0.2f};  // decay over steps 80..100
  for (int64_t s = 10; s < 80; ++s) EXPECT_EQ(learning_rate(o, s), 0.02f) << s;
  float prev = learning_rate(o, 80);
  EXPECT_FLOAT_EQ(prev, 0.02f);
  for (int64_t s = 81; s <= 100; ++s) {
    const float lr = learning_rate(o, s);
    EXPECT_LT(lr, prev) << s;
    EXPECT_NEAR(lr, 0.02 * (1.0 - double(s - 80) / 20.0), 1e-8) << s;
    prev = lr;
  }
  EXPECT_EQ(learning_rate(o, 100), 0.0f);
}

TEST(Schedule, RejectsUnknownNameAndBadOptions) {
  EXPECT_THROW(learning_rate({"cosine_restarts", 0.01f, 0, 10, 0.0f, 0.0f}, 0), ConfigError);
  try {
    learning_rate({"exp", 0.01f, 0, 10, 0.0f, 0.0f}, 0);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'exp'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(learning_rate({"cosine", 0.01f, 20, 10, 0.0f, 0.0f}, 0), ConfigError);   // warmup > max
  EXPECT_THROW(learning_rate({"cosine", 0.01f, 0, 0, 0.0f, 0.0f}, 0), ConfigError);     // no steps
  EXPECT_THROW(learning_rate({"linear", 0.01f, 0, 10, 1.5f, 0.0f}, 0), ConfigError);    // min ratio
  EXPECT_THROW(learning_rate({"wsd", 0.01f, 5, 10, 0.0f, 0.8f}, 0), ConfigError);       // warmup + decay > max
  EXPECT_NO_THROW(learning_rate({"wsd", 0.01f, 2, 10, 0.0f, 0.8f}, 0));
}

// ---- clipping --------------------------------------------------------------------------------------

TEST(Clip, ScalesToMaxNormAndLeavesSmallGradsAlone) {
  Tensor a = Tensor::zeros({2}).set_requires_grad(true), b = Tensor::zeros({1, 1}).set_requires_grad(true);
  Tensor no_grad = Tensor::zeros({3}).set_requires_grad(true);
  a.set_grad(Tensor::from_vector({3.0f, 0.0f}, {2}));
  b.set_grad(Tensor::from_vector({4.0f}, {1, 1}));
  EXPECT_FLOAT_EQ(clip_grad_norm({a, b, no_grad}, 10.0f), 5.0f);
  EXPECT_EQ(a.grad().to_f32_vector(), (std::vector<float>{3.0f, 0.0f}));  // untouched, bit for bit
  EXPECT_FLOAT_EQ(clip_grad_norm({a, b, no_grad}, 0.0f), 5.0f);          // max_norm 0: report only
  EXPECT_EQ(b.grad().to_f32_vector(), (std::vector<float>{4.0f}));

  EXPECT_FLOAT_EQ(clip_grad_norm({a, b, no_grad}, 2.0f), 5.0f);
  EXPECT_NEAR(grad_global_norm({a, b}), 2.0, 1e-5);
  EXPECT_NEAR(a.grad().to_f32_vector()[0], 3.0 * 2.0 / 5.0, 1e-6);
  EXPECT_NEAR(b.grad().to_f32_vector()[0], 4.0 * 2.0 / 5.0, 1e-6);
  EXPECT_FALSE(no_grad.grad().defined());

  // A large random set: the global norm, accumulated in double, matches the direct sum.
  Generator gen(41);
  Tensor big = Tensor::zeros({300, 257}).set_requires_grad(true);
  big.set_grad(random_tensor({300, 257}, gen));
  double sum = 0;
  for (float x : big.grad().to_f32_vector()) sum += double(x) * x;
  EXPECT_NEAR(clip_grad_norm({big}, 1.0f), std::sqrt(sum), 1e-3);
  EXPECT_NEAR(grad_global_norm({big}), 1.0, 1e-5);
}

// ---- checkpoint state ---------------------------------------------------------------------------------

std::vector<Tensor> make_params(Generator& gen) {
  return {named_param({6, 4}, gen, "h.0.mlp.weight"), named_param({4}, gen, "h.0.mlp.bias")};
}

std::vector<Tensor> clone_params(const std::vector<Tensor>& params) {
  std::vector<Tensor> out;
  for (const Tensor& p : params) out.push_back(p.detach().clone().set_requires_grad(true).set_name(p.name()));
  return out;
}

std::unique_ptr<Optimizer> make_by_kind(const std::string& kind, const std::vector<Tensor>& params) {
  std::vector<ParamGroup> groups = {{{params[0]}, 0.1f, "decay"}, {{params[1]}, 0.0f, "no_decay"}};
  return kind == "adamw" ? make_adamw(groups, 0.9f, 0.95f, 1e-8f) : make_sgd(groups, 0.8f, true);
}

TEST(OptimizerState, RestoredOptimizerResumesBitIdentically) {
  for (const std::string kind : {"adamw", "sgd"}) {
    Generator gen(51);
    std::vector<Tensor> pa = make_params(gen);
    auto opt_a = make_by_kind(kind, pa);
    std::vector<std::vector<Tensor>> grads;
    for (int t = 0; t < 7; ++t) grads.push_back({random_tensor({6, 4}, gen), random_tensor({4}, gen)});
    for (int t = 0; t < 3; ++t) {
      pa[0].set_grad(grads[size_t(t)][0].clone());
      pa[1].set_grad(grads[size_t(t)][1].clone());
      opt_a->step(0.01f);
    }
    // Round-trip the scalars through text, as a checkpoint would.
    nlohmann::json scalars = nlohmann::json::parse(opt_a->state_scalars().dump());
    std::map<std::string, Tensor> saved;
    for (const auto& [name, t] : opt_a->state_tensors()) saved[name] = t.clone();

    std::vector<Tensor> pb = clone_params(pa);
    auto opt_b = make_by_kind(kind, pb);
    opt_b->load_state(saved, scalars);
    EXPECT_EQ(opt_b->step_count(), 3) << kind;
    for (int t = 3; t < 7; ++t) {
      for (auto* params : {&pa, &pb}) {
        (*params)[0].set_grad(grads[size_t(t)][0].clone());
        (*params)[1].set_grad(grads[size_t(t)][1].clone());
      }
      opt_a->step(0.02f);
      opt_b->step(0.02f);
    }
    for (size_t i = 0; i < pa.size(); ++i) EXPECT_EQ(pa[i].to_f32_vector(), pb[i].to_f32_vector()) << kind << i;
    // Without the restore, the same steps give different parameters (the test can fail).
    std::vector<Tensor> pc = clone_params(pb);
    auto opt_c = make_by_kind(kind, pc);
    pc[0].set_grad(grads[6][0].clone());
    pc[1].set_grad(grads[6][1].clone());
    opt_c->step(0.02f);
    pb[0].set_grad(grads[6][0].clone());
    pb[1].set_grad(grads[6][1].clone());
    opt_b->step(0.02f);
    EXPECT_NE(pc[0].to_f32_vector(), pb[0].to_f32_vector()) << kind;
  }
}

template <typename Fn>
void expect_checkpoint_error_naming(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected CheckpointError mentioning " << needle;
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(OptimizerState, LoadRejectsMismatchedState) {
  Generator gen(61);
  std::vector<Tensor> params = make_params(gen);
  auto opt = make_by_kind("adamw", params);
  const nlohmann::json scalars = opt->state_scalars();
  const std::map<std::string, Tensor> good = opt->state_tensors();
  ASSERT_EQ(good.count("m.h.0.mlp.weight"), 1u);
  ASSERT_EQ(good.count("v.h.0.mlp.bias"), 1u);

  auto wrong_shape = good;
  wrong_shape["v.h.0.mlp.bias"] = Tensor::zeros({5});
  expect_checkpoint_error_naming([&] { opt->load_state(wrong_shape, scalars); }, "v.h.0.mlp.bias");
  auto missing = good;
  missing.erase("m.h.0.mlp.weight");
  expect_checkpoint_error_naming([&] { opt->load_state(missing, scalars); }, "m.h.0.mlp.weight");
  auto extra = good;
  extra["m.h.1.mlp.weight"] = Tensor::zeros({6, 4});
  expect_checkpoint_error_naming([&] { opt->load_state(extra, scalars); }, "m.h.1.mlp.weight");
  nlohmann::json no_step = scalars;
  no_step.erase("step");
  expect_checkpoint_error_naming([&] { opt->load_state(good, no_step); }, "step");
  auto sgd = make_by_kind("sgd", clone_params(params));
  expect_checkpoint_error_naming([&] { opt->load_state(sgd->state_tensors(), sgd->state_scalars()); }, "sgd");
  EXPECT_NO_THROW(opt->load_state(good, scalars));
}

TEST(OptimizerState, RejectsDuplicateParameters) {
  Generator gen(71);
  Tensor p = named_param({2, 2}, gen, "p");
  EXPECT_THROW(make_adamw({{{p}, 0.1f, "decay"}, {{p}, 0.0f, "no_decay"}}, 0.9f, 0.95f, 1e-8f), OpError);
}

// ---- parameter grouping -----------------------------------------------------------------------------

TEST(ParamGroups, DecayOnlyOnNonEmbeddingMatrices) {
  Generator gen(81);
  Tensor wte = random_tensor({50, 8}, gen), wpe = random_tensor({16, 8}, gen);
  Tensor c_attn_w = random_tensor({8, 24}, gen), c_attn_b = random_tensor({24}, gen);
  Tensor ln_w = random_tensor({8}, gen), embed_tokens = random_tensor({50, 8}, gen);
  Tensor q_proj = random_tensor({8, 8}, gen), rms_w = random_tensor({8}, gen);
  std::vector<std::pair<std::string, Tensor>> named = {
      {"transformer.wte.weight", wte},
      {"transformer.wpe.weight", wpe},
      {"transformer.h.0.attn.c_attn.weight", c_attn_w},
      {"transformer.h.0.attn.c_attn.bias", c_attn_b},
      {"transformer.h.0.ln_1.weight", ln_w},
      {"lm_head.weight", wte},  // tied to wte: listed once, still no decay
      {"model.embed_tokens.weight", embed_tokens},
      {"model.layers.0.self_attn.q_proj.weight", q_proj},
      {"model.layers.0.input_layernorm.weight", rms_w},
  };
  std::vector<ParamGroup> groups = default_param_groups(named, 0.1f);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "decay");
  EXPECT_FLOAT_EQ(groups[0].weight_decay, 0.1f);
  EXPECT_EQ(groups[1].name, "no_decay");
  EXPECT_EQ(groups[1].weight_decay, 0.0f);
  auto names = [](const ParamGroup& g) {
    std::vector<std::string> out;
    for (const Tensor& t : g.params) out.push_back(t.name());
    return out;
  };
  EXPECT_EQ(names(groups[0]), (std::vector<std::string>{"transformer.h.0.attn.c_attn.weight",
                                                        "model.layers.0.self_attn.q_proj.weight"}));
  EXPECT_EQ(names(groups[1]),
            (std::vector<std::string>{"transformer.wte.weight", "transformer.wpe.weight",
                                      "transformer.h.0.attn.c_attn.bias", "transformer.h.0.ln_1.weight",
                                      "model.embed_tokens.weight", "model.layers.0.input_layernorm.weight"}));
  EXPECT_EQ(groups[1].params[0].impl(), wte.impl());
  // The groups feed an optimizer directly.
  EXPECT_NO_THROW(make_adamw(groups, 0.9f, 0.95f, 1e-8f));
}

}  // namespace
}  // namespace anvil::optim
