/*
 * The incremental decoder: a buffer of stream bytes with whole frames taken
 * off its front.  Pure: it never sees a file descriptor (FRAME-7).
 */
#include <string.h>

#include "internal.h"

/* The size of a normal read: large enough to carry many small frames. */
#define DUCT__CHUNK ((size_t)64 << 10)

struct duct_reader {
	uint8_t *buf;
	size_t cap;
	size_t start, end;   /* buffered bytes are buf[start..end) */
	uint64_t want;       /* size of the frame at start once known, else 0 */
	uint64_t offset;     /* stream offset of buf[start] */
	uint32_t max;
	int err;             /* sticky protocol error (RECV-5) */
};

duct_reader *duct_reader_new(uint32_t max)
{
	duct_reader *r = duct__malloc(sizeof *r);
	if (r) {
		memset(r, 0, sizeof *r);
		r->max = max;
	}
	return r;
}

void duct_reader_free(duct_reader *r)
{
	if (r) {
		duct__free(r->buf);
		duct__free(r);
	}
}

void duct_reader_set_max(duct_reader *r, uint32_t max) { r->max = max; }

int duct_reader_next(duct_reader *r, const uint8_t **payload, size_t *len)
{
	if (r->err)
		return r->err;
	size_t have = r->end - r->start;
	uint32_t plen = 0;
	if (have == 0)
		return DUCT_NEED_MORE; /* and r->buf may still be NULL */
	/* A header already accepted stays accepted: set_max() applies to
	 * headers not yet parsed (frame.h). */
	uint32_t max = r->want ? UINT32_MAX : r->max;
	int rc = duct_frame_parse(r->buf + r->start, have, max, &plen);
	if (rc < 0)
		return r->err = rc;
	if (rc == DUCT_NEED_MORE)
		return rc;
	r->want = (uint64_t)DUCT_HEADER_SIZE + plen;
	if (have < r->want)
		return DUCT_NEED_MORE;
	*payload = plen ? r->buf + r->start + DUCT_HEADER_SIZE : NULL;
	*len = plen;
	r->start += r->want;
	r->offset += r->want;
	r->want = 0;
	/* Rewinding here keeps the payload's bytes in place: they are only
	 * overwritten by the next feed, which the borrow rule allows. */
	if (r->start == r->end)
		r->start = r->end = 0;
	return DUCT_OK;
}

int duct_reader_finish(const duct_reader *r)
{
	if (r->err)
		return r->err;
	return r->end == r->start ? DUCT_EOF : DUCT_ETRUNCATED;
}

uint64_t duct_reader_offset(const duct_reader *r) { return r->offset; }

size_t duct_reader_buffered(const duct_reader *r) { return r->end - r->start; }

int duct_reader_space(duct_reader *r, uint8_t **space, size_t *avail)
{
	size_t have = r->end - r->start;
	size_t need = r->want > have ? (size_t)(r->want - have) : 0;
	/* Room for a worthwhile read; below it, compact, then grow. */
	size_t min_free = DUCT__CHUNK / 2;
	if (r->cap - r->end < min_free && r->start > 0) {
		memmove(r->buf, r->buf + r->start, have);
		r->start = 0;
		r->end = have;
	}
	if (r->cap - r->end < min_free) {
		/* Geometric growth, so a big frame costs O(log n) reallocs
		 * whatever its segment sizes; capped by the frame's known
		 * size, so memory follows what the peer sent, not what its
		 * header claims (SEC-1). */
		size_t grow = have;
		if (need && need < grow)
			grow = need;
		/* At least a chunk, so the next realloc is half a chunk of
		 * feeding away even in a frame's last bytes. */
		if (grow < DUCT__CHUNK)
			grow = DUCT__CHUNK;
		size_t cap = have + grow;
		uint8_t *p = duct__realloc(r->buf, cap);
		if (!p)
			return DUCT_ENOMEM;
		r->buf = p;
		r->cap = cap;
	}
	*space = r->buf + r->end;
	*avail = r->cap - r->end;
	/* A large frame's last read stops at its end: the next frame then
	 * starts a rewound buffer instead of being moved down after it. */
	if (need && r->want >= DUCT__CHUNK && *avail > need)
		*avail = need;
	return DUCT_OK;
}

void duct_reader_commit(duct_reader *r, size_t n) { r->end += n; }

int duct_reader_feed(duct_reader *r, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		uint8_t *space;
		size_t avail;
		int rc = duct_reader_space(r, &space, &avail);
		if (rc != DUCT_OK)
			return rc;
		size_t n = len < avail ? len : avail;
		memcpy(space, p, n);
		duct_reader_commit(r, n);
		p += n;
		len -= n;
	}
	return DUCT_OK;
}
