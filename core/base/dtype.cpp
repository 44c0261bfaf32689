#include "core/base/dtype.h"

#include "core/base/error.h"

namespace anvil {

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::I8: return "i8";
    case DType::U8: return "u8";
  }
  return "?";
}

DType dtype_from_name(std::string_view n) {
  if (n == "f32" || n == "fp32" || n == "float32") return DType::F32;
  if (n == "f16" || n == "fp16" || n == "float16") return DType::F16;
  if (n == "bf16" || n == "bfloat16") return DType::BF16;
  if (n == "i32" || n == "int32") return DType::I32;
  if (n == "i64" || n == "int64") return DType::I64;
  if (n == "i8" || n == "int8") return DType::I8;
  if (n == "u8" || n == "uint8") return DType::U8;
  throw InputError(detail::concat("unknown dtype '", n, "'; expected one of f32, f16, bf16, i32, i64, i8, u8"));
}

std::string_view dtype_safetensors_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
  }
  return "?";
}

bool dtype_from_safetensors_name(std::string_view n, DType* out) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64, DType::I8, DType::U8}) {
    if (dtype_safetensors_name(t) == n) {
      *out = t;
      return true;
    }
  }
  return false;
}

}  // namespace anvil
