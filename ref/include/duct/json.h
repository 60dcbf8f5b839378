/*
 * The default serializer: JSON, byte-compatible with Python's json module as
 * the original ductworks uses it (JSON-*).
 *
 * The value model and the parser are json-c's (json_object *).  What json-c
 * does not do the way Python does is written here: the encoder (Python's
 * float repr, ", " and ": " separators, lowercase \u escapes with surrogate
 * pairs, NaN/Infinity), the U+FFFD replacement of invalid UTF-8 before
 * parsing, and the refusal of integers json-c would silently clamp.
 */
#ifndef DUCT_JSON_H
#define DUCT_JSON_H

#include <json-c/json.h>

#include "duct.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest nesting accepted by the decoder and the encoder (JSON-9). */
#define DUCT_JSON_MAX_DEPTH 512

/*
 * Appends the bytes Python's json.dumps(value) gives to out (JSON-2..6).
 * NULL encodes as null.  Returns DUCT_OK, DUCT_ENOMEM, or DUCT_EENCODE
 * (nesting deeper than DUCT_JSON_MAX_DEPTH).
 */
int duct_json_encode(const json_object *value, duct_buf *out);

/*
 * Decodes data as the original does: invalid UTF-8 replaced by U+FFFD
 * (JSON-7), then JSON with NaN/Infinity accepted (JSON-5).  On success
 * *value is a new json-c reference (json_object_put() it; a JSON null gives
 * NULL).  Returns DUCT_OK, DUCT_EJSON (malformed, trailing garbage, too
 * deep), DUCT_ERANGE (integer outside [-2^63, 2^64-1]: JSON-6),
 * DUCT_EVALUE (an object key containing U+0000: JSON-12) or DUCT_ENOMEM.
 */
int duct_json_decode(const uint8_t *data, size_t len, json_object **value);

/*
 * Replaces each maximal invalid UTF-8 subsequence of in[0..len) by U+FFFD
 * (EF BF BD), as Python's bytes.decode('utf-8', 'replace') does (JSON-7).
 * Appends to out.  DUCT_OK or DUCT_ENOMEM.
 */
int duct_utf8_sanitize(const uint8_t *in, size_t len, duct_buf *out);

/* Appends a double as json.dumps writes it: Python's repr() (shortest
 * round-trip form) for finite values, NaN / Infinity / -Infinity else. */
int duct_json_format_double(double v, duct_buf *out);

/* The default serializer (values are json_object *). */
extern const duct_serializer duct_json_serializer;

#ifdef __cplusplus
}
#endif
#endif
