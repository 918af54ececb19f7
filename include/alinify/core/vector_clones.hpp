#pragma once
// ALINIFY_VECTOR_CLONES marks a hot row kernel for GCC's function multi-versioning: one copy for the
// x86-64 baseline (SSE2) and one for AVX2, chosen once at load time from the CPU (an ifunc). The
// loops stay plain C++ that the compiler vectorises (checked with -fopt-info-vec and perf annotate:
// docs/defects.md, "Speed"). The AVX2 copy does not enable FMA, so both copies round every float the same
// way: a result does not depend on the machine's CPU. Other compilers (the clang sanitizer build)
// get the baseline copy alone.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define ALINIFY_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define ALINIFY_VECTOR_CLONES
#endif
