/* The pluggable allocator and the growable byte buffer. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static duct_allocator duct__alloc = {malloc, realloc, free};

void duct_set_allocator(const duct_allocator *a)
{
	static const duct_allocator libc = {malloc, realloc, free};
	duct__alloc = a ? *a : libc;
}

void *duct__malloc(size_t n) { return duct__alloc.malloc_fn(n ? n : 1); }
void *duct__realloc(void *p, size_t n)
{
	return duct__alloc.realloc_fn(p, n ? n : 1);
}
void duct__free(void *p)
{
	if (p)
		duct__alloc.free_fn(p);
}

int duct__buf_reserve(duct_buf *b, size_t need)
{
	if (b->cap - b->len >= need)
		return DUCT_OK;
	if (need > SIZE_MAX / 2 - b->len)
		return DUCT_ENOMEM;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < need)
		cap *= 2;
	uint8_t *p = duct__realloc(b->data, cap);
	if (!p)
		return DUCT_ENOMEM;
	b->data = p;
	b->cap = cap;
	return DUCT_OK;
}

int duct_buf_append(duct_buf *b, const void *p, size_t n)
{
	int rc = duct__buf_reserve(b, n);
	if (rc != DUCT_OK)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return DUCT_OK;
}

void duct_buf_free(duct_buf *b)
{
	duct__free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
