#!/usr/bin/env python3
"""The peers of bench/kernels_bench.cpp on PyTorch: the same GEMMs through torch.matmul (cuBLAS;
TF32 allowed for the f32 rows, as kernels.tf32 does) and causal SDPA forward and forward+backward,
as JSON lines with the same kernel names. Run by tools/gpu-check.sh where PyTorch is installed (the
GPU image has it); it is a measuring stick, never a dependency of anvil."""
import json
import re
import sys

import torch


def median_ms(fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def main():
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    names = [json.loads(line)["kernel"] for line in sys.stdin if line.startswith("{")]
    torch.backends.cuda.matmul.allow_tf32 = True
    for name in names:
        m = re.match(r"gemm (\S+) (\S+) (\d+)x(\d+)x(\d+)", name)
        if m:
            dtype = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}[m.group(2)]
            M, N, K = (int(m.group(i)) for i in (3, 4, 5))
            a = torch.randn(M, K, device="cuda", dtype=dtype)
            w = torch.randn(N, K, device="cuda", dtype=dtype)
            ms = median_ms(lambda: torch.matmul(a, w.t()), iters)
            flops = 2.0 * M * N * K
        else:
            m = re.match(r"attention (fwd\+bwd|fwd) bf16 causal B(\d+) H(\d+) T(\d+) D(\d+)", name)
            if not m:
                continue
            B, H, T, D = (int(m.group(i)) for i in (2, 3, 4, 5))
            q, k, v = (torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
            sdpa = torch.nn.functional.scaled_dot_product_attention
            fwd_flops = 4.0 * B * H * T * T * D / 2.0
            if m.group(1) == "fwd":
                with torch.no_grad():
                    ms = median_ms(lambda: sdpa(q, k, v, is_causal=True), iters)
                flops = fwd_flops
            else:
                g = torch.randn(B, H, T, D, device="cuda", dtype=torch.bfloat16)
                ms = median_ms(lambda: sdpa(q, k, v, is_causal=True).backward(g), iters)
                flops = 3.5 * fwd_flops
        print(json.dumps({"kernel": name, "torch_ms": round(ms, 4), "torch_tflops": round(flops / (ms * 1e-3) / 1e12, 2)}))


if __name__ == "__main__":
    main()
