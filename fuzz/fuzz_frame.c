/*
 * Fuzz target: the frame decoder (frame.h), with a differential oracle.
 *
 * Input: [max byte] [chunking byte] [repeat byte] body...
 *   - max byte: the reader's limit, fuzz_max_from_byte() (fuzz_common.h);
 *   - chunking byte: bits 0-1 pick how the stream is cut (one byte at a
 *     time; 1..8 bytes; 1..600 bytes; sizes around the reader's 32 and
 *     64 KiB thresholds), bits 2-7 seed the PRNG that draws the sizes;
 *   - repeat byte: 0x00..0xEF the stream is the body, 0xF0..0xFF the body
 *     written 2, 4, ... times (fuzz_repeat), up to FRAME_STREAM bytes.
 *
 * Two targets are built from this file, because an input's cost follows
 * the stream's length times the number of chunks (fuzz/README.md,
 * "Speed"):
 *   - fuzz_frame, the cheap one: repetition up to 1 KiB, and at most
 *     FRAME_CHUNKS chunks, the rest of the stream fed in one piece, so
 *     every input costs microseconds;
 *   - fuzz_frame_long (FUZZ_FRAME_LONG): repetition up to 256 KiB, so a
 *     small input can make the reader compact and grow its buffer, and no
 *     limit on the chunks (a long stream one byte at a time), with its own
 *     campaign and a longer time per input.
 *
 * The stream is decoded twice: in one piece (fuzz_reader_oracle, which
 * also checks every frame re-encodes to its bytes and the outcome against
 * the spec), and again fed in those chunks, mixing duct_reader_feed with
 * duct_reader_space/commit (the socket layer's zero-copy path) and taking
 * frames out at random moments.  Both must give the same frames, the same
 * terminal outcome (sticky error or duct_reader_finish) and the same
 * offset: FRAME-7, "the result is the same for every way of chunking".
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

#ifdef FUZZ_FRAME_LONG
#define FRAME_STREAM FUZZ_MAX_STREAM
#define FRAME_CHUNKS ((size_t)-1)
#else
/* Enough for a few hundred frames and for every chunking mode to cut
 * headers and payloads at every offset; the reader's 32 and 64 KiB
 * thresholds are fuzz_frame_long's. */
#define FRAME_STREAM ((size_t)1 << 10)
#define FRAME_CHUNKS ((size_t)32)
#endif

static size_t chunk_size(uint32_t *rng, int mode)
{
	static const size_t edges[] = {1,     4,     5,     6,     32767,
	                               32768, 32769, 65535, 65536, 65537};
	uint32_t x = fuzz_rand(rng);
	switch (mode) {
	case 0:
		return 1;
	case 1:
		return 1 + x % 8;
	case 2:
		return 1 + x % 600;
	default:
		return x & 1 ? edges[(x >> 1) % (sizeof edges / sizeof *edges)]
		             : 1 + (x >> 1) % (1u << 17);
	}
}

/* Takes every whole frame out of r, checking each against the oracle's
 * list.  Returns DUCT_NEED_MORE or the sticky error. */
static int drain(duct_reader *r, const uint8_t *s, const fuzz_frames *want,
                 size_t *got)
{
	const uint8_t *p;
	size_t len;
	int rc;
	while ((rc = duct_reader_next(r, &p, &len)) == DUCT_OK) {
		FUZZ_CHECK(*got < want->n, "chunked: frame %zu is one too many",
		           *got);
		fuzz_check_frame(s, &want->v[*got], p, len);
		++*got;
	}
	FUZZ_CHECK(rc == DUCT_NEED_MORE || rc == DUCT_EMAGIC ||
	               rc == DUCT_ETOOBIG,
	           "chunked: next gave %s", duct_err_name(rc));
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	uint32_t max = fuzz_max_from_byte(data[0]);
	int mode = data[1] & 3;
	size_t n;
	uint8_t *s = fuzz_repeat(data + 3, size - 3, data[2], FRAME_STREAM, &n);
	uint32_t rng = (uint32_t)(data[1] >> 2) * 2654435761u ^ (uint32_t)n;

	/* One piece: the reference. */
	fuzz_frames want = {0};
	uint64_t want_off = 0;
	int want_rc = fuzz_reader_oracle(s, n, max, &want, &want_off);

	/* Chunks. */
	duct_reader *r = duct_reader_new(max);
	FUZZ_CHECK(r != NULL, "duct_reader_new failed");
	size_t got = 0, at = 0, chunks = 0;
	int rc = DUCT_NEED_MORE;
	while (at < n) {
		/* Past the budget, the rest of the stream in one piece. */
		size_t k = chunks++ < FRAME_CHUNKS ? chunk_size(&rng, mode)
		                                   : n - at;
		if (k > n - at)
			k = n - at;
		uint32_t how = fuzz_rand(&rng);
		if (how & 1) {
			FUZZ_CHECK(duct_reader_feed(r, s + at, k) == DUCT_OK,
			           "feed failed");
			at += k;
		} else {
			/* Zero-copy: fill the space offered, as read() does. */
			size_t end = at + k;
			while (at < end) {
				uint8_t *space;
				size_t avail;
				FUZZ_CHECK(duct_reader_space(r, &space,
				                             &avail) == DUCT_OK,
				           "space failed");
				FUZZ_CHECK(avail >= 1, "space offered 0 bytes");
				size_t m = end - at < avail ? end - at : avail;
				memcpy(space, s + at, m);
				duct_reader_commit(r, m);
				at += m;
			}
		}
		/* Usually take frames out now; sometimes let them pile up. */
		if ((how >> 1) % 4 == 0 && at < n)
			continue;
		int prev = rc;
		rc = drain(r, s, &want, &got);
		FUZZ_CHECK(prev == DUCT_NEED_MORE || rc == prev,
		           "chunked: %s then %s: not sticky",
		           duct_err_name(prev), duct_err_name(rc));
		if (rc == DUCT_NEED_MORE) {
			/* A stream cut here would end cleanly only on a frame
			 * boundary (RECV-2, RECV-3). */
			int fin = duct_reader_finish(r);
			FUZZ_CHECK(fin == (duct_reader_buffered(r)
			                       ? DUCT_ETRUNCATED
			                       : DUCT_EOF),
			           "chunked: finish gave %s with %zu buffered",
			           duct_err_name(fin), duct_reader_buffered(r));
		}
	}
	if (n == 0)
		rc = drain(r, s, &want, &got);
	if (rc == DUCT_NEED_MORE)
		rc = duct_reader_finish(r);

	FUZZ_CHECK(got == want.n, "chunked: %zu frames, whole: %zu", got,
	           want.n);
	FUZZ_CHECK(rc == want_rc, "chunked: %s, whole: %s", duct_err_name(rc),
	           duct_err_name(want_rc));
	FUZZ_CHECK(duct_reader_offset(r) == want_off,
	           "chunked: offset %llu, whole: %llu",
	           (unsigned long long)duct_reader_offset(r),
	           (unsigned long long)want_off);
	FUZZ_CHECK(duct_reader_finish(r) == rc, "chunked: finish gave %s",
	           duct_err_name(duct_reader_finish(r)));
	duct_reader_free(r);
	fuzz_frames_free(&want);
	free(s);
	return 0;
}
