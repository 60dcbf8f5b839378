/*
 * The Ductworks frame codec: pure, no I/O, no file descriptors.
 *
 *   +------+----------------------+-----------------+
 *   | 0x54 | length: uint32, BE   | payload         |
 *   +------+----------------------+-----------------+
 *
 * Two layers:
 *   - duct_frame_header() / duct_frame_parse(): stateless, allocation-free,
 *     in the style of picohttpparser.
 *   - duct_reader: an incremental decoder in the style of hiredis's reader.
 *     Feed it bytes in any chunks, take whole frames out.  The result is the
 *     same for every way of chunking the same stream (FRAME-7).
 *
 * Memory conventions (all of libduct):
 *   - A pointer returned through an out-parameter named `payload` is
 *     borrowed: it points into memory the library owns and stays valid until
 *     the next call on the same object.  Never free it.
 *   - A pointer may be NULL when its length is 0.
 *   - Objects returned by *_new() are released with the matching *_free().
 *   - All allocation goes through duct_set_allocator()'s functions.
 */
#ifndef DUCT_FRAME_H
#define DUCT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DUCT_MAGIC = 0x54, DUCT_HEADER_SIZE = 5 };

/* Default receive limit: 64 MiB (SEC-1). */
#define DUCT_MAX_MESSAGE_DEFAULT ((uint32_t)64 << 20)

static inline void duct_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t duct_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Writes the 5-byte header of a frame carrying len payload bytes (FRAME-1). */
void duct_frame_header(uint8_t out[DUCT_HEADER_SIZE], uint32_t len);

/*
 * Parses the header at the start of buf[0..len).  Never reads past len.
 * Returns:
 *   DUCT_OK         the header is complete; *payload_len is set (the payload
 *                   itself may not have arrived yet);
 *   DUCT_NEED_MORE  fewer than 5 bytes and no error visible yet;
 *   DUCT_EMAGIC     buf[0] is not 0x54 (known from the first byte, FRAME-2);
 *   DUCT_ETOOBIG    the announced length is over max (known as soon as the
 *                   4 length bytes are, SEC-1); *payload_len is set.
 */
int duct_frame_parse(const uint8_t *buf, size_t len, uint32_t max,
		     uint32_t *payload_len);

/* Pluggable allocator, hiredis-style; used for every libduct allocation so
 * tests can count allocations and inject failures.  NULL restores libc's.
 * Not thread-safe: set it before creating any object. */
typedef struct duct_allocator {
	void *(*malloc_fn)(size_t);
	void *(*realloc_fn)(void *, size_t);
	void (*free_fn)(void *);
} duct_allocator;
void duct_set_allocator(const duct_allocator *a);

typedef struct duct_reader duct_reader;

/* Creates a reader that refuses frames longer than max bytes.  Allocates
 * nothing else until bytes arrive.  Returns NULL when out of memory. */
duct_reader *duct_reader_new(uint32_t max);
void duct_reader_free(duct_reader *r);

/* Changes the limit; applies to frames whose header is not yet parsed. */
void duct_reader_set_max(duct_reader *r, uint32_t max);

/* Copies len bytes into the reader.  DUCT_OK or DUCT_ENOMEM.  The buffer
 * grows only with what was fed, never with what a header announces, so a
 * peer trickling a huge frame costs at most about twice what it sent. */
int duct_reader_feed(duct_reader *r, const void *data, size_t len);

/*
 * Takes the next whole frame out of the reader.
 * Returns:
 *   DUCT_OK         *payload / *len describe the frame's payload (borrowed,
 *                   valid until the next call on r);
 *   DUCT_NEED_MORE  no whole frame buffered yet;
 *   DUCT_EMAGIC, DUCT_ETOOBIG  the stream is bad.  Sticky: every later call
 *                   returns the same code (RECV-5).
 */
int duct_reader_next(duct_reader *r, const uint8_t **payload, size_t *len);

/*
 * Tells the reader the stream ended.  Returns DUCT_EOF if it ended on a
 * frame boundary (RECV-2), DUCT_ETRUNCATED if inside a frame (RECV-3), or the
 * sticky protocol error.  Call after duct_reader_next() said NEED_MORE.
 */
int duct_reader_finish(const duct_reader *r);

/* Number of stream bytes consumed by whole frames so far; after a protocol
 * error, the offset of the first byte of the bad header. */
uint64_t duct_reader_offset(const duct_reader *r);

/* Number of bytes buffered and not yet returned as a frame. */
size_t duct_reader_buffered(const duct_reader *r);

/*
 * Zero-copy feeding for socket code: returns writable space at the end of
 * the buffer (at least 1 byte, more when a known frame still needs more), so
 * a read() can land straight in it; then duct_reader_commit() the bytes
 * written.  DUCT_OK or DUCT_ENOMEM.
 */
int duct_reader_space(duct_reader *r, uint8_t **space, size_t *avail);
void duct_reader_commit(duct_reader *r, size_t n);

#ifdef __cplusplus
}
#endif
#endif
