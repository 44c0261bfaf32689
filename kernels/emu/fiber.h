// Cooperative contexts for the emulator's GPU threads: each emulated thread runs on its own stack
// and gives control back to the block scheduler at every barrier. x86-64 switches with a few
// instructions (callee-saved registers, MXCSR and the x87 control word); other hosts use ucontext.
#pragma once

#include <cstddef>
#include <memory>

namespace anvil::emu {

class Fiber {
 public:
  using Entry = void (*)(void* arg);

  explicit Fiber(size_t stack_bytes);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Prepares the fiber to run entry(arg) from the top of its stack on the next resume().
  void reset(Entry entry, void* arg);
  // Runs the fiber until it calls suspend() (or its entry returns to suspend for good).
  void resume();
  // From inside the fiber: back to whoever called resume().
  void suspend();

  const char* stack_low() const { return stack_; }
  const char* stack_high() const { return stack_ + stack_bytes_; }

 private:
  static void start();

  char* stack_ = nullptr;
  size_t stack_bytes_ = 0;
  struct Context;
  std::unique_ptr<Context> self_, caller_;
  Entry entry_ = nullptr;
  void* arg_ = nullptr;
};

}  // namespace anvil::emu
