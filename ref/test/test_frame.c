/* The pure frame codec: duct_frame_header, duct_frame_parse, duct_reader. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
	uint8_t *data;
	size_t len;
} bytes;

static void put_frame(bytes *b, const void *payload, uint32_t len)
{
	b->data = realloc(b->data, b->len + DUCT_HEADER_SIZE + len);
	duct_frame_header(b->data + b->len, len);
	if (len)
		memcpy(b->data + b->len + DUCT_HEADER_SIZE, payload, len);
	b->len += DUCT_HEADER_SIZE + len;
}

static void put_raw(bytes *b, const void *p, size_t len)
{
	b->data = realloc(b->data, b->len + len);
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

/* What a reader made of a stream: the frames and the terminal outcome. */
typedef struct {
	size_t frames;
	uint64_t digest; /* of every frame's length and bytes, in order */
	int outcome;     /* duct_reader_finish(), or the first error */
	uint64_t offset;
} outcome;

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
	h = (h ^ n) * 1099511628211u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return h;
}

/* Feeds stream in chunks ending at cuts[0..ncuts) (ascending), draining
 * frames after every feed, then finishes. */
static outcome decode(const bytes *s, uint32_t max, const size_t *cuts,
		      size_t ncuts)
{
	outcome o = {0, 14695981039346656037u, DUCT_OK, 0};
	duct_reader *r = duct_reader_new(max);
	assert_non_null(r);
	size_t at = 0;
	for (size_t c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : s->len;
		assert_status(DUCT_OK, duct_reader_feed(r, s->data + at, to - at));
		at = to;
		const uint8_t *p;
		size_t n;
		int rc;
		while ((rc = duct_reader_next(r, &p, &n)) == DUCT_OK) {
			o.frames++;
			o.digest = mix(o.digest, p, n);
		}
		if (rc < 0) {
			/* Sticky: asking again changes nothing (RECV-5). */
			assert_status(rc, duct_reader_next(r, &p, &n));
			o.outcome = rc;
			break;
		}
	}
	if (o.outcome == DUCT_OK)
		o.outcome = duct_reader_finish(r);
	o.offset = duct_reader_offset(r);
	duct_reader_free(r);
	return o;
}

static void assert_same(outcome a, outcome b)
{
	assert_int_equal(a.frames, b.frames);
	assert_int_equal(a.digest, b.digest);
	assert_status(a.outcome, b.outcome);
	assert_int_equal(a.offset, b.offset);
}

/* Every way of cutting s into 2 and 3 pieces, and byte by byte, gives the
 * same result as one piece (FRAME-7). */
static outcome decode_every_split(const bytes *s, uint32_t max)
{
	outcome whole = decode(s, max, NULL, 0);
	for (size_t i = 0; i <= s->len; i++) {
		assert_same(whole, decode(s, max, &i, 1));
		for (size_t j = i; j <= s->len && s->len < 200; j++) {
			size_t cuts[2] = {i, j};
			assert_same(whole, decode(s, max, cuts, 2));
		}
	}
	size_t *all = malloc((s->len + 1) * sizeof *all);
	for (size_t i = 0; i < s->len; i++)
		all[i] = i + 1;
	assert_same(whole, decode(s, max, all, s->len));
	free(all);
	return whole;
}

/* ---- stateless codec ---------------------------------------------------- */

/* FRAME-1: 0x54, then the length in 4 big-endian bytes. */
static void frame_header_lengths(void **state)
{
	(void)state;
	static const struct {
		uint32_t len;
		uint8_t hdr[5];
	} cases[] = {
		{0, {0x54, 0, 0, 0, 0}},
		{1, {0x54, 0, 0, 0, 1}},
		{255, {0x54, 0, 0, 0, 0xff}},
		{256, {0x54, 0, 0, 1, 0}},
		{65535, {0x54, 0, 0, 0xff, 0xff}},
		{65536, {0x54, 0, 1, 0, 0}},
		{1u << 24, {0x54, 1, 0, 0, 0}},
		{0xfffffffe, {0x54, 0xff, 0xff, 0xff, 0xfe}},
		{0xffffffff, {0x54, 0xff, 0xff, 0xff, 0xff}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t out[5];
		uint32_t back = 0;
		duct_frame_header(out, cases[i].len);
		assert_memory_equal(out, cases[i].hdr, 5);
		assert_status(DUCT_OK, duct_frame_parse(out, 5, UINT32_MAX, &back));
		assert_int_equal(back, cases[i].len);
	}
}

static void frame_parse_partial(void **state)
{
	(void)state;
	const uint8_t h[5] = {0x54, 0, 0, 0, 7};
	uint32_t len = 99;
	for (size_t n = 0; n < 5; n++)
		assert_status(DUCT_NEED_MORE, duct_frame_parse(h, n, 100, &len));
	assert_int_equal(len, 99); /* untouched until known */
	assert_status(DUCT_OK, duct_frame_parse(h, 5, 100, &len));
	assert_int_equal(len, 7);
}

/* FRAME-2, RECV-4: a bad first byte is an error at once. */
static void frame_parse_bad_magic(void **state)
{
	(void)state;
	uint32_t len;
	for (int b = 0; b < 256; b++) {
		uint8_t h[5] = {(uint8_t)b, 0, 0, 0, 0};
		int rc = duct_frame_parse(h, 1, 100, &len);
		assert_status(b == 0x54 ? DUCT_NEED_MORE : DUCT_EMAGIC, rc);
	}
}

/* RECV-6, SEC-1: evil lengths crossed with every count of trailing bytes. */
static void frame_parse_evil_lengths(void **state)
{
	(void)state;
	const uint32_t max = 1000;
	const uint32_t evil[] = {0,          1,          max,        max + 1,
				 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff};
	for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
		for (size_t trail = 0; trail < 9; trail++) {
			bytes s = {0};
			uint8_t h[5];
			duct_frame_header(h, evil[i]);
			put_raw(&s, h, 5);
			for (size_t t = 0; t < trail; t++)
				put_raw(&s, "x", 1);
			tu_alloc_install();
			outcome o = decode(&s, max, NULL, 0);
			size_t biggest = tu_alloc_bytes;
			tu_alloc_uninstall();
			if (evil[i] > max) {
				assert_status(DUCT_ETOOBIG, o.outcome);
				assert_int_equal(o.offset, 0);
			} else if (trail >= evil[i]) {
				assert_int_equal(o.frames, 1);
			} else {
				assert_status(DUCT_ETRUNCATED, o.outcome);
			}
			/* Never an allocation sized by the header. */
			assert_true(biggest <= (128u << 10));
			free(s.data);
		}
	}
}

/* Any over-read past the end of the input faults on a PROT_NONE page. */
static void frame_parse_guard_page(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *m = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + page, (size_t)page, PROT_NONE), 0);
	const uint8_t h[5] = {0x54, 0, 0, 1, 0};
	for (size_t n = 0; n <= 5; n++) {
		uint8_t *at = m + page - n;
		memcpy(at, h, n);
		uint32_t len;
		int rc = duct_frame_parse(at, n, UINT32_MAX, &len);
		assert_status(n == 5 ? DUCT_OK : DUCT_NEED_MORE, rc);
		duct_reader *r = duct_reader_new(UINT32_MAX);
		assert_status(DUCT_OK, duct_reader_feed(r, at, n));
		const uint8_t *p;
		size_t plen;
		assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &plen));
		duct_reader_free(r);
	}
	munmap(m, 2 * (size_t)page);
}

/* ---- the incremental reader ---------------------------------------------- */

/* FRAME-3, FRAME-4, FRAME-7: back-to-back frames of awkward sizes. */
static void reader_next_many_frames_any_split(void **state)
{
	(void)state;
	bytes s = {0};
	put_frame(&s, NULL, 0);
	put_frame(&s, "a", 1);
	put_frame(&s, "hello", 5);
	put_frame(&s, NULL, 0);
	put_frame(&s, "\x54\x00\x00\x00\x01", 5); /* a header as payload */
	outcome o = decode_every_split(&s, DUCT_MAX_MESSAGE_DEFAULT);
	assert_int_equal(o.frames, 5);
	assert_status(DUCT_EOF, o.outcome);
	assert_int_equal(o.offset, s.len);
	free(s.data);
}

static void reader_next_boundary_sizes(void **state)
{
	(void)state;
	const uint32_t sizes[] = {255, 256, 65535, 65536, 65537, 1u << 24};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		bytes s = {0};
		uint8_t *p = malloc(sizes[i]);
		for (uint32_t k = 0; k < sizes[i]; k++)
			p[k] = (uint8_t)(k * 7 + i);
		put_frame(&s, p, sizes[i]);
		put_frame(&s, "z", 1);
		outcome whole = decode(&s, DUCT_MAX_MESSAGE_DEFAULT, NULL, 0);
		assert_int_equal(whole.frames, 2);
		assert_status(DUCT_EOF, whole.outcome);
		/* Split inside the header, inside the payload, at the seam. */
		const size_t cuts[] = {1, 3, 5, 6, sizes[i] / 2, sizes[i] + 4,
				       sizes[i] + 5, sizes[i] + 6, sizes[i] + 9};
		for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++)
			assert_same(whole, decode(&s, DUCT_MAX_MESSAGE_DEFAULT,
						  &cuts[c], 1));
		free(p);
		free(s.data);
	}
}

/* RECV-2, RECV-3: the stream ends at every offset. */
static void reader_finish_truncated_everywhere(void **state)
{
	(void)state;
	bytes s = {0};
	put_frame(&s, "abc", 3);
	put_frame(&s, "defgh", 5);
	for (size_t end = 0; end <= s.len; end++) {
		bytes t = {s.data, end};
		outcome o = decode_every_split(&t, 100);
		size_t whole = end >= 8 + 10 ? 2 : end >= 8 ? 1 : 0;
		assert_int_equal(o.frames, whole);
		int boundary = end == 0 || end == 8 || end == 18;
		assert_status(boundary ? DUCT_EOF : DUCT_ETRUNCATED, o.outcome);
	}
	free(s.data);
}

/* RECV-4, RECV-5, RECV-7: frames before the bad byte are delivered; nothing
 * after; the error is sticky and says where. */
static void reader_next_bad_magic_after_frames(void **state)
{
	(void)state;
	bytes s = {0};
	put_frame(&s, "ok", 2);
	put_frame(&s, "ok2", 3);
	put_raw(&s, "X\x00\x00\x00\x01z", 6);
	put_frame(&s, "never", 5);
	outcome o = decode_every_split(&s, 100);
	assert_int_equal(o.frames, 2);
	assert_status(DUCT_EMAGIC, o.outcome);
	assert_int_equal(o.offset, 15);
	free(s.data);

	/* finish() reports the sticky error, not a close. */
	duct_reader *r = duct_reader_new(100);
	const uint8_t *p;
	size_t n;
	assert_status(DUCT_OK, duct_reader_feed(r, "\x00", 1));
	assert_status(DUCT_EMAGIC, duct_reader_next(r, &p, &n));
	assert_status(DUCT_EMAGIC, duct_reader_finish(r));
	assert_status(DUCT_OK, duct_reader_feed(r, "\x54\0\0\0\0", 5));
	assert_status(DUCT_EMAGIC, duct_reader_next(r, &p, &n));
	duct_reader_free(r);
}

/* SEC-1: 0xFFFFFFFF announced under the default 64 MiB limit: refused on
 * the 4 length bytes, with no allocation of that size. */
static void reader_next_huge_length_no_alloc(void **state)
{
	(void)state;
	tu_alloc_install();
	duct_reader *r = duct_reader_new(DUCT_MAX_MESSAGE_DEFAULT);
	const uint8_t h[5] = {0x54, 0xff, 0xff, 0xff, 0xff};
	const uint8_t *p;
	size_t n;
	for (int i = 0; i < 4; i++) {
		assert_status(DUCT_OK, duct_reader_feed(r, h + i, 1));
		assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
	}
	assert_status(DUCT_OK, duct_reader_feed(r, h + 4, 1));
	assert_status(DUCT_ETOOBIG, duct_reader_next(r, &p, &n));
	assert_true(tu_alloc_bytes <= (64u << 10));
	duct_reader_free(r);
	tu_alloc_uninstall();
}

/* SEC-1: limits apply to the announced length; at the limit is fine. */
static void reader_set_max_boundary(void **state)
{
	(void)state;
	bytes s = {0};
	put_frame(&s, "12345", 5);
	assert_int_equal(decode(&s, 5, NULL, 0).frames, 1);
	assert_status(DUCT_ETOOBIG, decode(&s, 4, NULL, 0).outcome);
	duct_reader *r = duct_reader_new(4);
	duct_reader_set_max(r, 5);
	assert_status(DUCT_OK, duct_reader_feed(r, s.data, s.len));
	const uint8_t *p;
	size_t n;
	assert_status(DUCT_OK, duct_reader_next(r, &p, &n));
	assert_memory_equal(p, "12345", 5);
	duct_reader_free(r);
	free(s.data);
}

/* A lower limit set mid-frame spares the frame whose header was accepted
 * (found by reading, by the fuzz harnesses' author). */
static void reader_set_max_mid_frame(void **state)
{
	(void)state;
	duct_reader *r = duct_reader_new(100);
	const uint8_t *p;
	size_t n;
	assert_status(DUCT_OK, duct_reader_feed(r, "\x54\0\0\0\x0a" "ab", 7));
	assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
	duct_reader_set_max(r, 5);
	assert_status(DUCT_OK, duct_reader_feed(r, "cdefghij", 8));
	assert_status(DUCT_OK, duct_reader_next(r, &p, &n));
	assert_int_equal(n, 10);
	assert_status(DUCT_OK, duct_reader_feed(r, "\x54\0\0\0\x06", 5));
	assert_status(DUCT_ETOOBIG, duct_reader_next(r, &p, &n)); /* the next one */
	duct_reader_free(r);
}

/* SEC-1: a peer that announces 64 MiB and trickles it makes the buffer
 * grow with what it sent, not with what it announced. */
static void reader_space_trickle_bounded(void **state)
{
	(void)state;
	tu_alloc_install();
	duct_reader *r = duct_reader_new(DUCT_MAX_MESSAGE_DEFAULT);
	uint8_t h[5];
	duct_frame_header(h, DUCT_MAX_MESSAGE_DEFAULT);
	assert_status(DUCT_OK, duct_reader_feed(r, h, 5));
	static uint8_t chunk[4096];
	size_t fed = 5;
	const uint8_t *p;
	size_t n;
	for (int i = 0; i < 256; i++) {
		assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
		assert_status(DUCT_OK, duct_reader_feed(r, chunk, sizeof chunk));
		fed += sizeof chunk;
		assert_true(tu_alloc_bytes <= 2 * fed + (64u << 10));
	}
	duct_reader_free(r);
	tu_alloc_uninstall();
}

/* A big frame fed in small pieces costs a logarithmic number of
 * reallocations, not one per piece. */
static void reader_space_growth_is_geometric(void **state)
{
	(void)state;
	tu_alloc_install();
	duct_reader *r = duct_reader_new(DUCT_MAX_MESSAGE_DEFAULT);
	uint8_t h[5];
	duct_frame_header(h, 16u << 20);
	assert_status(DUCT_OK, duct_reader_feed(r, h, 5));
	static uint8_t piece[4096];
	const uint8_t *p;
	size_t n;
	for (size_t fed = 0; fed < (16u << 20); fed += sizeof piece) {
		assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
		assert_status(DUCT_OK, duct_reader_feed(r, piece, sizeof piece));
	}
	assert_status(DUCT_OK, duct_reader_next(r, &p, &n));
	assert_int_equal(n, 16u << 20);
	assert_true(tu_allocs <= 32); /* 19 here; it was 2057 */
	duct_reader_free(r);
	tu_alloc_uninstall();
}

/* A fresh reader has no buffer yet; asking it for a frame is fine (found by
 * fuzz_frame under UBSan: NULL + 0). */
static void reader_next_fresh(void **state)
{
	(void)state;
	duct_reader *r = duct_reader_new(100);
	const uint8_t *p;
	size_t n;
	assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
	assert_status(DUCT_EOF, duct_reader_finish(r));
	assert_status(DUCT_OK, duct_reader_feed(r, NULL, 0));
	assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
	duct_reader_free(r);
}

/* The last bytes of a big frame, fed one at a time, do not realloc per
 * byte (found by fuzz_frame: a realloc on every feed). */
static void reader_space_tail_byte_by_byte(void **state)
{
	(void)state;
	duct_reader *r = duct_reader_new(DUCT_MAX_MESSAGE_DEFAULT);
	uint8_t h[5];
	const size_t big = 200u << 10;
	duct_frame_header(h, (uint32_t)big);
	assert_status(DUCT_OK, duct_reader_feed(r, h, 5));
	static uint8_t body[200u << 10];
	const uint8_t *p;
	size_t n;
	assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
	assert_status(DUCT_OK, duct_reader_feed(r, body, big - 1000));
	tu_alloc_install();
	for (size_t i = 0; i < 1000; i++) {
		assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
		assert_status(DUCT_OK, duct_reader_feed(r, body, 1));
	}
	assert_true(tu_allocs <= 2);
	tu_alloc_uninstall();
	assert_status(DUCT_OK, duct_reader_next(r, &p, &n));
	assert_int_equal(n, big);
	duct_reader_free(r);
}

/* FRAME-3: a 16 MiB message through the zero-copy path. */
static void reader_space_16mib(void **state)
{
	(void)state;
	const size_t big = 16u << 20;
	duct_reader *r = duct_reader_new(DUCT_MAX_MESSAGE_DEFAULT);
	uint8_t h[5];
	duct_frame_header(h, (uint32_t)big);
	assert_status(DUCT_OK, duct_reader_feed(r, h, 5));
	const uint8_t *p;
	size_t n, sent = 0;
	while (duct_reader_next(r, &p, &n) == DUCT_NEED_MORE) {
		uint8_t *space;
		size_t avail;
		assert_status(DUCT_OK, duct_reader_space(r, &space, &avail));
		assert_true(avail > 0);
		size_t k = big - sent < avail ? big - sent : avail;
		for (size_t i = 0; i < k; i++)
			space[i] = (uint8_t)((sent + i) % 251);
		duct_reader_commit(r, k);
		sent += k;
	}
	assert_int_equal(n, big);
	for (size_t i = 0; i < big; i += 4093)
		assert_int_equal(p[i], i % 251);
	assert_int_equal(duct_reader_buffered(r), 0);
	duct_reader_free(r);
}

/* Reads into a large frame stop at its end, so the next frame starts at the
 * front of the buffer and nothing is moved down; small frames are not cut
 * short, so one read can bring many of them. */
static void reader_space_stops_at_large_frame_end(void **state)
{
	(void)state;
	const size_t big = 1u << 20;
	duct_reader *r = duct_reader_new(DUCT_MAX_MESSAGE_DEFAULT);
	uint8_t h[5], *space, *front;
	size_t avail, n;
	const uint8_t *p;
	duct_frame_header(h, (uint32_t)big);
	assert_status(DUCT_OK, duct_reader_feed(r, h, 5));
	size_t have = 0;
	while (have < big - 100) {
		assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
		assert_status(DUCT_OK, duct_reader_space(r, &space, &avail));
		assert_true(avail <= big - have);
		size_t k = big - 100 - have < avail ? big - 100 - have : avail;
		memset(space, 'x', k);
		duct_reader_commit(r, k);
		have += k;
	}
	assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
	assert_status(DUCT_OK, duct_reader_space(r, &space, &avail));
	assert_int_equal(avail, 100);
	memset(space, 'x', 100);
	duct_reader_commit(r, 100);
	assert_status(DUCT_OK, duct_reader_next(r, &p, &n));
	assert_int_equal(n, big);
	front = (uint8_t *)p - DUCT_HEADER_SIZE;
	assert_status(DUCT_OK, duct_reader_space(r, &space, &avail));
	assert_ptr_equal(space, front);
	/* A small frame's read may run on into the frames after it. */
	duct_frame_header(h, 10);
	memcpy(space, h, 5);
	duct_reader_commit(r, 5);
	assert_status(DUCT_NEED_MORE, duct_reader_next(r, &p, &n));
	assert_status(DUCT_OK, duct_reader_space(r, &space, &avail));
	assert_true(avail > 10);
	duct_reader_free(r);
}

/* No allocation per message once the buffer has warmed up. */
static void reader_next_steady_state_no_alloc(void **state)
{
	(void)state;
	bytes s = {0};
	for (int i = 0; i < 100; i++)
		put_frame(&s, "0123456789abcdef0123456789abcdef", (uint32_t)(i % 33));
	duct_reader *r = duct_reader_new(DUCT_MAX_MESSAGE_DEFAULT);
	const uint8_t *p;
	size_t n;
	assert_status(DUCT_OK, duct_reader_feed(r, s.data, s.len));
	while (duct_reader_next(r, &p, &n) == DUCT_OK)
		;
	tu_alloc_install();
	for (int round = 0; round < 1000; round++) {
		assert_status(DUCT_OK, duct_reader_feed(r, s.data, s.len));
		int frames = 0;
		while (duct_reader_next(r, &p, &n) == DUCT_OK)
			frames++;
		assert_int_equal(frames, 100);
	}
	assert_int_equal(tu_allocs, 0);
	tu_alloc_uninstall();
	duct_reader_free(r);
	free(s.data);
}

/* Out of memory is reported, and the reader stays usable. */
static void reader_feed_enomem(void **state)
{
	(void)state;
	tu_alloc_install();
	tu_fail_after = 0;
	assert_null(duct_reader_new(100));
	duct_reader *r = duct_reader_new(100);
	assert_non_null(r);
	tu_fail_after = 0;
	assert_status(DUCT_ENOMEM, duct_reader_feed(r, "\x54\0\0\0\1z", 6));
	uint8_t *space;
	size_t avail;
	tu_fail_after = 0;
	assert_status(DUCT_ENOMEM, duct_reader_space(r, &space, &avail));
	assert_status(DUCT_OK, duct_reader_feed(r, "\x54\0\0\0\1z", 6));
	const uint8_t *p;
	size_t n;
	assert_status(DUCT_OK, duct_reader_next(r, &p, &n));
	assert_memory_equal(p, "z", 1);
	duct_reader_free(r);
	tu_alloc_uninstall();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frame_header_lengths),
		cmocka_unit_test(frame_parse_partial),
		cmocka_unit_test(frame_parse_bad_magic),
		cmocka_unit_test(frame_parse_evil_lengths),
		cmocka_unit_test(frame_parse_guard_page),
		cmocka_unit_test(reader_next_many_frames_any_split),
		cmocka_unit_test(reader_next_boundary_sizes),
		cmocka_unit_test(reader_finish_truncated_everywhere),
		cmocka_unit_test(reader_next_bad_magic_after_frames),
		cmocka_unit_test(reader_next_huge_length_no_alloc),
		cmocka_unit_test(reader_set_max_boundary),
		cmocka_unit_test(reader_set_max_mid_frame),
		cmocka_unit_test(reader_space_trickle_bounded),
		cmocka_unit_test(reader_space_16mib),
		cmocka_unit_test(reader_space_stops_at_large_frame_end),
		cmocka_unit_test(reader_space_growth_is_geometric),
		cmocka_unit_test(reader_space_tail_byte_by_byte),
		cmocka_unit_test(reader_next_fresh),
		cmocka_unit_test(reader_next_steady_state_no_alloc),
		cmocka_unit_test(reader_feed_enomem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
