/* UTF-8 decoding shared by the sanitizer and the JSON encoder (internal). */
#ifndef DUCT_UTF8_H
#define DUCT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decodes the sequence at p[0..n), n >= 1.  Returns its length (1..4) and
 * sets *cp, or, if it is invalid, minus the length (1..3) of its maximal
 * subpart: the bytes that one U+FFFD replaces (Unicode 15, section 3.9).
 */
int duct__utf8_next(const uint8_t *p, size_t n, uint32_t *cp);

/* Length of the longest valid UTF-8 prefix of p[0..n). */
size_t duct__utf8_valid_len(const uint8_t *p, size_t n);

#endif
