#pragma once
// ALINIFY_HD marks functions that both the host compiler and nvcc compile, so the
// CPU and CUDA warp run the same arithmetic (one warp math, two compilers).
#if defined(__CUDACC__)
#define ALINIFY_HD __host__ __device__
#else
#define ALINIFY_HD
#endif
