/*
 * slm-qbench - matvec throughput of every weight type in every kernel
 * variant, next to the machine's read bandwidth measured in the same run.
 *
 *   slm-qbench [--quick] [TYPE...]     e.g. slm-qbench Q4_0 Q8_0
 *
 * For each type x variant: GB/s of weight bytes streamed and GFLOP/s
 * (2 * rows * n) of a single-threaded matvec, for three shapes of a small
 * model (cache-resident after the first pass) and for one 512 MiB matrix
 * (DRAM-bound: larger than any cache). "eff" = DRAM matvec GB/s / read
 * bandwidth, the read bandwidth being a SIMD sum over a 512 MiB uint64
 * array. Times are the best of a few repetitions.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant.h"
#include "quant_impl.h"

#define ARENA_BYTES ((size_t)512 << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

/* ---- read bandwidth ----------------------------------------------------- */

__attribute__((target("avx512f"))) static uint64_t sum_avx512(const uint64_t *a, size_t n)
{
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 32) {
        s0 = _mm512_add_epi64(s0, _mm512_load_si512(a + i));
        s1 = _mm512_add_epi64(s1, _mm512_load_si512(a + i + 8));
        s2 = _mm512_add_epi64(s2, _mm512_load_si512(a + i + 16));
        s3 = _mm512_add_epi64(s3, _mm512_load_si512(a + i + 24));
    }
    return (uint64_t)_mm512_reduce_add_epi64(
        _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3)));
}

__attribute__((target("avx2"))) static uint64_t sum_avx2(const uint64_t *a, size_t n)
{
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 16) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256((const __m256i *)(a + i)));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256((const __m256i *)(a + i + 4)));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256((const __m256i *)(a + i + 8)));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256((const __m256i *)(a + i + 12)));
    }
    s0 = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    uint64_t t[4];
    _mm256_storeu_si256((__m256i *)t, s0);
    return t[0] + t[1] + t[2] + t[3];
}

static uint64_t sum_sse2(const uint64_t *a, size_t n)
{
    __m128i s0 = _mm_setzero_si128(), s1 = s0;
    for (size_t i = 0; i < n; i += 4) {
        s0 = _mm_add_epi64(s0, _mm_load_si128((const __m128i *)(a + i)));
        s1 = _mm_add_epi64(s1, _mm_load_si128((const __m128i *)(a + i + 2)));
    }
    uint64_t t[2];
    _mm_storeu_si128((__m128i *)t, _mm_add_epi64(s0, s1));
    return t[0] + t[1];
}

static const char *sum_name(enum slm_isa isa)
{
    return isa >= SLM_ISA_AVX512 ? "avx512" : isa >= SLM_ISA_AVX2 ? "avx2" : "sse2";
}

/* One pass over the arena, in seconds. */
static double sum_pass(const uint64_t *a, enum slm_isa isa)
{
    size_t n = ARENA_BYTES / 8;
    double t0 = now_s();
    uint64_t sum = isa >= SLM_ISA_AVX512 ? sum_avx512(a, n)
                   : isa >= SLM_ISA_AVX2 ? sum_avx2(a, n)
                                         : sum_sse2(a, n);
    __asm__ volatile("" : : "r"(sum)); /* keep the sum */
    return now_s() - t0;
}

/* ---- weights -------------------------------------------------------------- */

static void fill_random(uint8_t *w, size_t bytes, uint64_t *seed)
{
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        uint64_t v = rng_next(seed);
        memcpy(w + i, &v, 8);
    }
}

/* Makes random bytes well-formed rows: sane scales and float values (a NaN
 * or a denormal would time something else). */
static void fix_rows(uint32_t type, uint8_t *w, size_t bytes, size_t rb, uint64_t *seed)
{
    const struct slm_qtype_info *ti = slm_qtype_info(type);
    size_t rows = bytes / rb, nb = rb / ti->type_size;
    for (size_t r = 0; r < rows; r++) {
        uint8_t *row = w + r * rb;
        for (size_t b = 0; b < nb; b++) {
            uint8_t *blk = row + b * ti->type_size;
            uint16_t h = (uint16_t)(0x2000 + (rng_next(seed) & 0x3ff)); /* ~0.01 */
            switch (type) {
            case SLM_Q_F32: {
                float f = (float)((int)(rng_next(seed) & 0xff) - 128) / 128.0f;
                memcpy(blk, &f, 4);
                break;
            }
            case SLM_Q_F16:
                memcpy(blk, &h, 2);
                break;
            case SLM_Q_BF16: {
                uint16_t bf = (uint16_t)(0x3c00 + (rng_next(seed) & 0xff));
                memcpy(blk, &bf, 2);
                break;
            }
            case SLM_Q_Q6_K:
                memcpy(blk + SLM__Q6_K_D, &h, 2);
                break;
            case SLM_Q_Q4_K:
                memcpy(blk + 2, &h, 2); /* dmin */
                memcpy(blk, &h, 2);
                break;
            default:
                memcpy(blk, &h, 2);
            }
        }
    }
}

/* ---- timing ---------------------------------------------------------------- */

struct variant {
    const char *name;
    enum slm_isa isa;
    int vnni; /* -1: not an AVX-512 table */
};

static const struct slm_qops *variant_ops(const struct variant *v, uint32_t type)
{
    if (v->vnni >= 0)
        return slm__qops_avx512(type, v->vnni);
    return slm_qops_get(type, v->isa);
}

struct result {
    double gbs, gflops;
};

/* Best time of matvec over `rows` x n at w, repeated for ~budget seconds. */
static struct result time_matvec(const struct slm_qops *o, int n, int rows, const uint8_t *w,
                                 const void *xq, float *y, double budget)
{
    size_t rb = slm_qtype_row_bytes(o->type, (uint64_t)n);
    double best = 1e30, start = now_s();
    int reps = 0;
    o->matvec(n, rows, y, w, rb, xq); /* warm */
    do {
        double t0 = now_s();
        o->matvec(n, rows, y, w, rb, xq);
        double t = now_s() - t0;
        best = t < best ? t : best;
        reps++;
    } while ((now_s() - start < budget || reps < 3) && reps < 1000);
    struct result r = {(double)rb * rows / best / 1e9, 2.0 * n * rows / best / 1e9};
    return r;
}

static const struct {
    int rows, n;
} shapes[] = {{768, 2048}, {2048, 768}, {32000, 768}};

#define DRAM_N 4096

static const uint32_t types[] = {SLM_Q_F32,  SLM_Q_F16,  SLM_Q_BF16, SLM_Q_Q8_0,
                                 SLM_Q_Q4_0, SLM_Q_Q4_K, SLM_Q_Q6_K};
static const struct variant variants[] = {
    {"scalar", SLM_ISA_SCALAR, -1}, {"sse2", SLM_ISA_SSE2, -1},        {"avx2", SLM_ISA_AVX2, -1},
    {"avx512", SLM_ISA_AVX512, 0},  {"avx512vnni", SLM_ISA_AVX512, 1},
};

struct bufs {
    uint8_t *arena, *shape[3];
    uint8_t *xq;
    float *xf, *y;
};

/* One table row: a type in one variant, every shape, then the DRAM pass. */
static void bench_row(uint32_t type, const struct variant *va, const struct bufs *b, double budget,
                      bool dram)
{
    enum slm_isa best = slm_cpu_detect();
    const struct slm_qops *o = variant_ops(va, type);
    slm_qops_get(o->vec_dot_type, best)->from_float(b->xf, b->xq, DRAM_N);
    printf("%-5s %-10s", slm_qtype_info(type)->name, va->name);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        struct result r =
            time_matvec(o, shapes[s].n, shapes[s].rows, b->shape[s], b->xq, b->y, budget);
        printf("  %15.1f %7.1f", r.gbs, r.gflops);
    }
    if (!dram) {
        printf("   %18s\n", "-");
    } else {
        /* the matvec passes interleaved with read-bandwidth passes, best of
         * 3 each: both see the same background load */
        size_t rb = slm_qtype_row_bytes(type, DRAM_N);
        int rows = (int)(ARENA_BYTES / rb);
        double tm = 1e30, ts = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t = sum_pass((const uint64_t *)b->arena, best);
            ts = t < ts ? t : ts;
            double t0 = now_s();
            o->matvec(DRAM_N, rows, b->y, b->arena, rb, b->xq);
            t = now_s() - t0;
            tm = t < tm ? t : tm;
        }
        double gbs = (double)rb * rows / tm / 1e9, bw = (double)ARENA_BYTES / ts / 1e9;
        printf("   %10.1f %6.1f %4.0f%%\n", gbs, bw, 100.0 * gbs / bw);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    bool bw_only = argc > 1 && !strcmp(argv[1], "--bandwidth"); /* for make bench */
    bool quick = argc > 1 && !strcmp(argv[1], "--quick");
    char **only = argv + 1 + quick + bw_only;
    int n_only = argc - 1 - quick - bw_only;
    double budget = quick ? 0.005 : 0.02;
    enum slm_isa best = slm_cpu_detect();
    bool vnni = slm_cpu_features() & SLM_CPU_AVX512_VNNI;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    struct bufs b;
    b.arena = aligned_alloc(64, ARENA_BYTES);
    b.xf = malloc(sizeof(float) * DRAM_N);
    b.y = malloc(sizeof(float) * (ARENA_BYTES / 64));
    b.xq = aligned_alloc(64, DRAM_N * 4);
    bool ok = b.arena && b.xf && b.y && b.xq;
    for (size_t s = 0; s < 3; s++) {
        b.shape[s] = aligned_alloc(64, (size_t)shapes[s].rows * shapes[s].n * 4);
        ok = ok && b.shape[s];
    }
    if (!ok) {
        fprintf(stderr, "slm-qbench: out of memory\n");
        return 1;
    }
    fill_random(b.arena, ARENA_BYTES, &seed);
    for (int i = 0; i < DRAM_N; i++)
        b.xf[i] = (float)((int)(rng_next(&seed) % 2001) - 1000) / 1000.0f;
    double ts = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t = sum_pass((const uint64_t *)b.arena, best);
        ts = t < ts ? t : ts;
    }
    if (bw_only) {
        printf("bandwidth_gbs=%.2f\n", (double)ARENA_BYTES / ts / 1e9);
        return 0;
    }
    printf("cpu: %s%s, 1 thread\n", slm_isa_name(best), vnni ? " (+vnni)" : "");
    printf("read bandwidth: %.1f GB/s (sum of a 512 MiB uint64 array, %s, best of 5)\n",
           (double)ARENA_BYTES / ts / 1e9, sum_name(best));
    printf("GB/s: weight bytes per second; DRAM: one %d MiB matrix, n = %d, its GB/s next\n"
           "to the read bandwidth measured alongside it, eff = their ratio\n\n",
           (int)(ARENA_BYTES >> 20), DRAM_N);
    printf("%-5s %-10s", "type", "isa");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        printf("  %5dx%-5d GB/s GFLOP/s", shapes[s].rows, shapes[s].n);
    printf("   DRAM GB/s  read  eff\n");
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        uint32_t type = types[t];
        bool wanted = n_only == 0;
        for (int i = 0; i < n_only; i++)
            wanted = wanted || !strcmp(only[i], slm_qtype_info(type)->name);
        if (!wanted)
            continue;
        size_t rb = slm_qtype_row_bytes(type, DRAM_N);
        fix_rows(type, b.arena, ARENA_BYTES / rb * rb, rb, &seed);
        for (size_t s = 0; s < 3; s++) {
            size_t srb = slm_qtype_row_bytes(type, (uint64_t)shapes[s].n);
            fill_random(b.shape[s], srb * (size_t)shapes[s].rows, &seed);
            fix_rows(type, b.shape[s], srb * (size_t)shapes[s].rows, srb, &seed);
        }
        for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
            const struct variant *va = &variants[v];
            if (va->isa > best || (va->vnni == 1 && !vnni))
                continue;
            /* scalar over 512 MiB takes seconds: only when asked for */
            bench_row(type, va, &b, budget, va->isa != SLM_ISA_SCALAR);
        }
    }
    free(b.arena);
    for (size_t s = 0; s < 3; s++)
        free(b.shape[s]);
    free(b.xf);
    free(b.y);
    free(b.xq);
    return 0;
}
