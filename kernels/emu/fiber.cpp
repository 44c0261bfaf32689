#include "kernels/emu/fiber.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>
#include <stdexcept>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace anvil::emu {

namespace {
thread_local Fiber* g_starting = nullptr;  // the fiber whose start() is about to run
}

#if defined(__x86_64__)

// anvil_emu_switch(save, load): pushes the callee-saved registers, MXCSR and the x87 control word,
// stores the stack pointer to *save, switches to `load` and pops the same from there.
extern "C" void anvil_emu_switch(void** save, void* load);
asm(R"(
  .text
  .globl anvil_emu_switch
  .type anvil_emu_switch,@function
anvil_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size anvil_emu_switch,.-anvil_emu_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");

struct Fiber::Context {
  void* sp = nullptr;
};

void Fiber::reset(Entry entry, void* arg) {
  entry_ = entry;
  arg_ = arg;
  // A new stack as anvil_emu_switch leaves it: control word slot, six registers, then the address
  // `ret` jumps to (start), above it a zero return address so start() sees a 16-byte aligned call frame.
  auto* top = reinterpret_cast<uint64_t*>((reinterpret_cast<uintptr_t>(stack_ + stack_bytes_)) & ~uintptr_t(15));
  *--top = 0;                                          // start()'s return address: never used
  *--top = reinterpret_cast<uint64_t>(&Fiber::start);  // popped by ret
  for (int i = 0; i < 6; ++i) *--top = 0;              // rbp rbx r12-r15
  *--top = 0x037F00001F80ull;                          // MXCSR 0x1F80, x87 control word 0x037F
  self_->sp = top;
}

void Fiber::resume() {
  g_starting = this;
  anvil_emu_switch(&caller_->sp, self_->sp);
}

void Fiber::suspend() { anvil_emu_switch(&self_->sp, caller_->sp); }

#else

struct Fiber::Context {
  ucontext_t uc;
};

void Fiber::reset(Entry entry, void* arg) {
  entry_ = entry;
  arg_ = arg;
  getcontext(&self_->uc);
  self_->uc.uc_stack.ss_sp = stack_;
  self_->uc.uc_stack.ss_size = stack_bytes_;
  self_->uc.uc_link = nullptr;
  makecontext(&self_->uc, &Fiber::start, 0);
}

void Fiber::resume() {
  g_starting = this;
  swapcontext(&caller_->uc, &self_->uc);
}

void Fiber::suspend() { swapcontext(&self_->uc, &caller_->uc); }

#endif

Fiber::Fiber(size_t stack_bytes) : stack_bytes_(stack_bytes), self_(new Context), caller_(new Context) {
  // Reserved, not committed: a thread touches only the pages its frames use.
  void* p = mmap(nullptr, stack_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  stack_ = static_cast<char*>(p);
}

Fiber::~Fiber() { munmap(stack_, stack_bytes_); }

void Fiber::start() {
  Fiber* self = g_starting;
  self->entry_(self->arg_);  // the entry never returns: it suspends for the last time
  std::abort();
}

}  // namespace anvil::emu
