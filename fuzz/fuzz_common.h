/*
 * What the fuzz harnesses share: the option byte that chooses a receive
 * limit, a small deterministic PRNG for chunk boundaries, and the check
 * that turns a broken invariant into abort(), which libFuzzer, AFL++ and
 * the replay main all report as a crash.
 *
 * Every harness is a pure function of its input: no clock, no global
 * randomness, so a crash file reproduces the same way everywhere.
 */
#ifndef DUCT_FUZZ_COMMON_H
#define DUCT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duct/frame.h"

/* Aborts with a message when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, \
			        __LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

/*
 * The receive limit chosen by an option byte (STYLE.md section 15: leading
 * input bytes choose parser options).  Bytes 0x00..0xEF are the limit
 * itself, so small limits, where DUCT_ETOOBIG is easy to reach, take most
 * of the byte's range; 0xF0..0xFF pick the boundaries of SEC-1 and of the
 * reader's 64 KiB chunk.  fuzz/make_seeds.py writes the inverse mapping.
 */
static inline uint32_t fuzz_max_from_byte(uint8_t b)
{
	static const uint32_t table[16] = {
	    DUCT_MAX_MESSAGE_DEFAULT, /* 0xF0: the default, 64 MiB */
	    0xFFFFFFFFu,              /* 0xF1: no limit at all */
	    0x7FFFFFFFu,
	    0x80000000u,
	    0xFFFFFFFEu,
	    DUCT_MAX_MESSAGE_DEFAULT - 1,
	    DUCT_MAX_MESSAGE_DEFAULT + 1,
	    256,
	    4096,
	    4097,
	    32768,
	    65535,
	    65536,
	    65537,
	    1u << 20,
	    1u << 24,
	};
	return b < 0xF0 ? b : table[b - 0xF0];
}

/* The longest stream a repeat byte builds: big enough for the reader to
 * cross its 32 and 64 KiB thresholds and grow a few times.  Only the
 * targets (or the rare option values) meant for long streams ask for it:
 * the cost of an input follows the stream's length (fuzz/README.md,
 * "Speed"). */
#define FUZZ_MAX_STREAM ((size_t)256 << 10)

/*
 * The stream an input describes: body[0..len) written several times, as
 * the option byte rep says: 0x00..0xEF once (so most mutations keep
 * inputs small and fast), 0xF0..0xFF 2, 4, ... 65536 times (2^(rep-0xEF)),
 * cut to whole copies of at most cap bytes (at least one copy).  A short
 * input thus stands for a long stream of many frames, which fuzzers would
 * be slow to grow by themselves.  Returns a malloc'd buffer of exactly *n
 * bytes, so an over-read past the stream is caught by ASan as it would be
 * on the fuzzer's own buffer.
 */
static inline uint8_t *fuzz_repeat(const uint8_t *body, size_t len, uint8_t rep,
                                   size_t cap, size_t *n)
{
	size_t copies = rep < 0xF0 ? 1 : (size_t)1 << (rep - 0xEF);
	if (len > 0 && copies > cap / len)
		copies = cap / len ? cap / len : 1;
	*n = len * copies;
	uint8_t *s = malloc(*n ? *n : 1);
	FUZZ_CHECK(s != NULL, "out of memory");
	for (size_t i = 0; i < copies && len > 0; i++)
		memcpy(s + i * len, body, len);
	return s;
}

/* xorshift32: deterministic chunk sizes from a seed taken from the input. */
static inline uint32_t fuzz_rand(uint32_t *state)
{
	uint32_t x = *state ? *state : 0x9E3779B9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* A growable list of frames found in a stream: the stream offset of each
 * header and the payload length. */
typedef struct fuzz_frames {
	size_t n, cap;
	struct fuzz_frame_ref {
		size_t pos;
		uint32_t len;
	} * v;
} fuzz_frames;

static inline void fuzz_frames_push(fuzz_frames *f, size_t pos, uint32_t len)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? 2 * f->cap : 16;
		f->v = realloc(f->v, f->cap * sizeof *f->v);
		FUZZ_CHECK(f->v != NULL, "out of memory");
	}
	f->v[f->n].pos = pos;
	f->v[f->n].len = len;
	f->n++;
}

static inline void fuzz_frames_free(fuzz_frames *f)
{
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}

/*
 * Decodes stream[0..n) with a fresh duct_reader fed in one piece, checking
 * each frame against the bytes it came from (re-encoding its header with
 * duct_frame_header, comparing the payload, which reads every returned
 * byte).  Fills frames and returns the terminal outcome: the sticky error
 * of duct_reader_next, or duct_reader_finish after DUCT_NEED_MORE.  *offset
 * gets duct_reader_offset.
 */
int fuzz_reader_oracle(const uint8_t *stream, size_t n, uint32_t max,
                       fuzz_frames *frames, uint64_t *offset);

/* Checks that a frame delivered by any decoder (payload p, length len) is
 * the frame `want` of the stream: same length, same bytes. */
void fuzz_check_frame(const uint8_t *stream, const struct fuzz_frame_ref *want,
                      const uint8_t *p, size_t len);

#endif
