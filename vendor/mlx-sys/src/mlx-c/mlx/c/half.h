/* Copyright © 2023-2024 Apple Inc. */

#ifndef MLX_HALF_H
#define MLX_HALF_H

/* Fathom: elsewhere than ARM (x86-64 Linux) GCC has no __fp16/__bf16. C++ uses MLX's own 16-bit
 * types; C (bindgen, clang) sees the same 16 bits as clang's storage-only __fp16 and as uint16_t,
 * which bindgen maps as it does on ARM. */
#if !(defined(__ARM_FEATURE_FP16_SCALAR_ARITHMETIC) || defined(__aarch64__))
#ifdef __cplusplus
#include "mlx/types/half_types.h"
typedef mlx::core::float16_t float16_t;
typedef mlx::core::bfloat16_t bfloat16_t;
#else
#include <stdint.h>
typedef __fp16 float16_t;
typedef uint16_t bfloat16_t;
#endif
#define HAS_FLOAT16
#define HAS_BFLOAT16
#endif

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__ARM_FEATURE_FP16_SCALAR_ARITHMETIC) || defined(__aarch64__)
#define HAS_FLOAT16
#include <arm_fp16.h>
typedef __fp16 float16_t;
#endif

#if defined(__ARM_FEATURE_BF16) || defined(__aarch64__)
#define HAS_BFLOAT16
#include <arm_bf16.h>
typedef __bf16 bfloat16_t;
#endif

#ifdef __cplusplus
}
#endif

#endif
