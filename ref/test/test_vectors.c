/*
 * The language-neutral frame vectors (vectors/frames/frames.json, schema in
 * vectors/README.md) replayed through duct_reader: in one piece, in each
 * vector's own pieces, byte by byte, and cut at every offset and pair of
 * offsets (FRAME-7).  Every replay must give the vector's messages and
 * outcome (FRAME-1..4, FRAME-6, RECV-1..7, SEC-1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "testutil.h"

#define FRAMES    DUCT_SOURCE_DIR "/vectors/frames/frames.json"
#define GENERATOR DUCT_SOURCE_DIR "/vectors/frames/gen_frame_vectors.py"

/* Streams shorter than these are also cut at every offset / pair. */
#define EVERY_SPLIT_MAX 2048
#define EVERY_PAIR_MAX  512
/* Streams longer than this (the 16 MiB frame) are fed in pieces of
 * BIG_STEP bytes rather than one byte: duct_reader_space() reallocates on
 * every feed once a frame's buffered part passes 64 KiB, so 1-byte feeds of
 * 16 MiB cost 8 million reallocs, quadratic copying with an allocator that
 * copies (ASan's does; glibc's mremap hides it). */
#define BYTEWISE_MAX (256u << 10)
#define BIG_STEP     65521

/* The outcome "open": the stream stops and the connection stays up. */
#define OUTCOME_OPEN DUCT_NEED_MORE

typedef struct {
	size_t len;
	uint64_t fnv;  /* FNV-1a 64 of the payload */
	uint8_t *data; /* NULL when the vector gives only len and fnv */
} message;

typedef struct {
	const char *id; /* borrowed from the json tree */
	uint32_t max;
	uint8_t *stream;
	size_t len;
	int patterned; /* given as stream_pattern */
	size_t *cuts; /* the vector's own pieces, as end offsets */
	size_t ncuts;
	int has_chunks;
	message *msgs;
	size_t nmsgs;
	int outcome;     /* DUCT_EOF, DUCT_ETRUNCATED, DUCT_EMAGIC, DUCT_ETOOBIG
			  * or OUTCOME_OPEN */
	int after_close; /* for "open": DUCT_EOF or DUCT_ETRUNCATED */
} vector;

static json_object *root;
static vector *vecs;
static size_t nvecs;

/* ---- loading ------------------------------------------------------------ */

/* The value of key, NULL if absent or null. */
static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static int has(json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

static json_object *need(const char *id, json_object *o, const char *key,
			 json_type type)
{
	json_object *v = get(o, key);
	if (!json_object_is_type(v, type))
		fail_msg("%s: \"%s\" missing or of the wrong type", id, key);
	return v;
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3u;
	return h;
}

/* Appends the bytes of hex to *buf (of *len bytes). */
static void append_hex(const char *id, uint8_t **buf, size_t *len,
		       const char *hex)
{
	size_t n = strlen(hex);
	if (n % 2)
		fail_msg("%s: odd-length hex", id);
	*buf = realloc(*buf, *len + n / 2 + 1);
	assert_non_null(*buf);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			fail_msg("%s: bad hex", id);
		(*buf)[*len + i] = (uint8_t)v;
	}
	*len += n / 2;
}

/* TESTEE.md's send-pattern: byte i is (7*i + seed) mod 256. */
static void append_pattern(uint8_t **buf, size_t *len, size_t n, int64_t seed)
{
	*buf = realloc(*buf, *len + n + 1);
	assert_non_null(*buf);
	for (size_t i = 0; i < n; i++)
		(*buf)[*len + i] = (uint8_t)(7 * i + (uint64_t)seed);
	*len += n;
}

static int outcome_code(const char *id, const char *name)
{
	static const struct {
		const char *name;
		int code;
	} names[] = {{"open", OUTCOME_OPEN},
		     {"eof", DUCT_EOF},
		     {"truncated", DUCT_ETRUNCATED},
		     {"magic", DUCT_EMAGIC},
		     {"toobig", DUCT_ETOOBIG}};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(names[i].name, name))
			return names[i].code;
	fail_msg("%s: unknown outcome %s", id, name);
	return 0;
}

static const char *outcome_name(int code)
{
	return code == OUTCOME_OPEN ? "open" : duct_err_name(code);
}

static int one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return 1;
	return 0;
}

static void load_stream(vector *v, json_object *c)
{
	json_object *hex = get(c, "stream_hex");
	json_object *pat = get(c, "stream_pattern");
	if (!hex == !pat)
		fail_msg("%s: needs exactly one of stream_hex, stream_pattern",
			 v->id);
	if (hex) {
		append_hex(v->id, &v->stream, &v->len,
			   json_object_get_string(hex));
		return;
	}
	assert_true(json_object_is_type(pat, json_type_array));
	v->patterned = 1;
	for (size_t i = 0; i < json_object_array_length(pat); i++) {
		json_object *p = json_object_array_get_idx(pat, i);
		json_object *h = get(p, "hex");
		if (h) {
			append_hex(v->id, &v->stream, &v->len,
				   json_object_get_string(h));
			continue;
		}
		int64_t n = json_object_get_int64(
			need(v->id, p, "pattern_len", json_type_int));
		int64_t seed = json_object_get_int64(
			need(v->id, p, "seed", json_type_int));
		assert_true(n > 0 && seed >= 0 && seed < 256);
		append_pattern(&v->stream, &v->len, (size_t)n, seed);
	}
}

static void load_chunks(vector *v, json_object *c)
{
	json_object *ch = get(c, "chunks");
	if (!has(c, "chunks"))
		fail_msg("%s: \"chunks\" missing (null when in one piece)",
			 v->id);
	if (!ch)
		return;
	assert_true(json_object_is_type(ch, json_type_array));
	size_t n = json_object_array_length(ch), at = 0;
	v->has_chunks = 1;
	v->cuts = calloc(n + 1, sizeof *v->cuts);
	assert_non_null(v->cuts);
	for (size_t i = 0; i < n; i++) {
		json_object *size = json_object_array_get_idx(ch, i);
		int64_t k = json_object_get_int64(size);
		if (k <= 0)
			fail_msg("%s: chunk sizes must be positive", v->id);
		at += (size_t)k;
		if (i + 1 < n)
			v->cuts[v->ncuts++] = at;
	}
	if (at != v->len)
		fail_msg("%s: chunks sum to %zu, stream is %zu bytes", v->id,
			 at, v->len);
}

static void load_expect(vector *v, json_object *c)
{
	json_object *e = need(v->id, c, "expect", json_type_object);
	json_object *hex = get(e, "messages_hex"), *dig = get(e, "messages");
	if (!hex == !dig)
		fail_msg("%s: needs exactly one of messages_hex, messages",
			 v->id);
	json_object *list = hex ? hex : dig;
	assert_true(json_object_is_type(list, json_type_array));
	v->nmsgs = json_object_array_length(list);
	v->msgs = calloc(v->nmsgs + 1, sizeof *v->msgs);
	assert_non_null(v->msgs);
	for (size_t i = 0; i < v->nmsgs; i++) {
		json_object *m = json_object_array_get_idx(list, i);
		message *msg = &v->msgs[i];
		if (hex) {
			append_hex(v->id, &msg->data, &msg->len,
				   json_object_get_string(m));
			msg->fnv = fnv1a64(msg->data, msg->len);
			continue;
		}
		msg->len = (size_t)json_object_get_int64(
			need(v->id, m, "len", json_type_int));
		const char *f = json_object_get_string(
			need(v->id, m, "fnv1a64", json_type_string));
		assert_int_equal(strlen(f), 16);
		msg->fnv = strtoull(f, NULL, 16);
	}
	const char *out = json_object_get_string(
		need(v->id, e, "outcome", json_type_string));
	v->outcome = outcome_code(v->id, out);
	json_object *ac = get(e, "after_close");
	if ((v->outcome == OUTCOME_OPEN) != (ac != NULL))
		fail_msg("%s: after_close goes with outcome open, only", v->id);
	if (ac) {
		const char *name = json_object_get_string(ac);
		v->after_close = outcome_code(v->id, name);
		assert_true(v->after_close == DUCT_EOF ||
			    v->after_close == DUCT_ETRUNCATED);
	}
}

static void load(vector *v, json_object *c)
{
	static const char *const grades[] = {"valid", "invalid", "acceptable",
					     NULL};
	static const char *const levels[] = {"MUST", "SHOULD", "MAY", NULL};
	v->id = json_object_get_string(need("?", c, "id", json_type_string));
	if (strncmp(v->id, "frames.", 7))
		fail_msg("%s: ids start with \"frames.\"", v->id);
	json_object *reqs = need(v->id, c, "requirements", json_type_array);
	if (json_object_array_length(reqs) == 0)
		fail_msg("%s: names no requirement", v->id);
	need(v->id, c, "comment", json_type_string);
	if (!one_of(json_object_get_string(
			    need(v->id, c, "grade", json_type_string)),
		    grades))
		fail_msg("%s: unknown grade", v->id);
	json_object *lv = get(c, "level"); /* optional: MUST by default */
	if (lv && !one_of(json_object_get_string(lv), levels))
		fail_msg("%s: unknown level", v->id);
	json_object *max = get(c, "max");
	if (!has(c, "max"))
		fail_msg("%s: \"max\" missing (null for the default)", v->id);
	if (!max)
		v->max = DUCT_MAX_MESSAGE_DEFAULT;
	else if (!json_object_is_type(max, json_type_int) ||
		 json_object_get_int64(max) < 0 ||
		 json_object_get_int64(max) > UINT32_MAX)
		fail_msg("%s: max is a uint32 or null", v->id);
	else
		v->max = (uint32_t)json_object_get_int64(max);
	load_stream(v, c);
	load_chunks(v, c);
	load_expect(v, c);
}

static int setup(void **state)
{
	(void)state;
	root = json_object_from_file(FRAMES);
	if (!json_object_is_type(root, json_type_array)) {
		fprintf(stderr, "cannot read %s\n", FRAMES);
		return -1;
	}
	nvecs = json_object_array_length(root);
	vecs = calloc(nvecs, sizeof *vecs);
	return vecs ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < nvecs; i++) {
		for (size_t k = 0; k < vecs[i].nmsgs; k++)
			free(vecs[i].msgs[k].data);
		free(vecs[i].msgs);
		free(vecs[i].cuts);
		free(vecs[i].stream);
	}
	free(vecs);
	json_object_put(root);
	return 0;
}

/* Parses every vector once (the tests below share them); a schema error
 * fails the test that first asks. */
static void load_all(void)
{
	static int loaded;
	if (loaded)
		return;
	for (size_t i = 0; i < nvecs; i++)
		load(&vecs[i], json_object_array_get_idx(root, i));
	loaded = 1;
}

/* ---- replay ------------------------------------------------------------- */

/* How a stream is cut: at cuts[0..ncuts) (ascending), or into pieces of
 * step bytes when step > 0. */
typedef struct {
	const size_t *cuts;
	size_t ncuts;
	size_t step;
	char how[48];
} split;

static size_t piece_end(const split *s, size_t i, size_t at, size_t len)
{
	if (s->step)
		return len - at < s->step ? len : at + s->step;
	return i < s->ncuts ? s->cuts[i] : len;
}

static int checks_message(const vector *v, size_t k, const uint8_t *p,
			  size_t n, char *why, size_t size)
{
	if (k >= v->nmsgs) {
		snprintf(why, size, "extra message #%zu of %zu bytes", k, n);
		return 0;
	}
	const message *m = &v->msgs[k];
	if (n != m->len) {
		snprintf(why, size, "message #%zu: %zu bytes, want %zu", k, n,
			 m->len);
		return 0;
	}
	if (!m->data) {
		uint64_t h = fnv1a64(p, n);
		if (h != m->fnv)
			snprintf(why, size,
				 "message #%zu: fnv1a64 %016llx, want %016llx",
				 k, (unsigned long long)h,
				 (unsigned long long)m->fnv);
		return h == m->fnv;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] != m->data[i]) {
			snprintf(why, size,
				 "message #%zu: byte %zu is %02x, want %02x", k,
				 i, p[i], m->data[i]);
			return 0;
		}
	}
	return 1;
}

/* Feeds v's stream cut as s says, taking frames out after every piece.
 * Returns 1 if the messages and the outcome are the vector's, else prints
 * the vector's id and what differed, and returns 0. */
static int replay(const vector *v, const split *s)
{
	duct_reader *r = duct_reader_new(v->max);
	assert_non_null(r);
	char why[160] = "";
	size_t at = 0, got = 0;
	int rc = DUCT_NEED_MORE;
	for (size_t i = 0; at < v->len || i == 0; i++) {
		size_t to = piece_end(s, i, at, v->len);
		assert_status(DUCT_OK,
			      duct_reader_feed(r, v->stream + at, to - at));
		at = to;
		const uint8_t *p;
		size_t n;
		if (rc != DUCT_NEED_MORE) {
			/* After an error, more bytes change nothing (RECV-5) */
			if (duct_reader_next(r, &p, &n) != rc && !why[0])
				snprintf(why, sizeof why, "error not sticky");
			continue;
		}
		while ((rc = duct_reader_next(r, &p, &n)) == DUCT_OK) {
			if (!checks_message(v, got, p, n, why, sizeof why))
				break;
			got++;
		}
		if (why[0])
			break;
	}
	int outcome = rc;
	if (why[0]) {
		/* already failed */
	} else if (rc != DUCT_NEED_MORE) {
		if (duct_reader_finish(r) != rc)
			snprintf(why, sizeof why, "finish() forgot the error");
	} else if (v->outcome == OUTCOME_OPEN) {
		int fin = duct_reader_finish(r);
		if (fin != v->after_close)
			snprintf(why, sizeof why,
				 "open, then a close would give %s, want %s",
				 outcome_name(fin),
				 outcome_name(v->after_close));
	} else {
		outcome = duct_reader_finish(r);
	}
	if (!why[0] && got != v->nmsgs)
		snprintf(why, sizeof why, "%zu messages, want %zu", got,
			 v->nmsgs);
	if (!why[0] && outcome != v->outcome)
		snprintf(why, sizeof why, "outcome %s, want %s",
			 outcome_name(outcome), outcome_name(v->outcome));
	duct_reader_free(r);
	if (why[0])
		fprintf(stderr, "%s (%s): %s\n", v->id, s->how, why);
	return !why[0];
}

/* Runs replay() on every vector with the splits make() gives; fails at the
 * end with the count, so one run names every failing vector. */
typedef size_t (*split_maker)(const vector *v, size_t k, split *s,
			      size_t *buf);

static void replay_all(split_maker make)
{
	load_all();
	size_t runs = 0, bad = 0;
	size_t *buf = malloc(2 * sizeof *buf);
	assert_non_null(buf);
	for (size_t i = 0; i < nvecs; i++) {
		const vector *v = &vecs[i];
		split s;
		for (size_t k = 0; make(v, k, &s, buf); k++) {
			runs++;
			if (!replay(v, &s)) {
				bad++;
				break; /* one message per vector and mode */
			}
		}
	}
	free(buf);
	assert_true(runs > 0);
	if (bad)
		fail_msg("%zu of %zu replays differ from the vectors", bad,
			 runs);
}

static size_t whole(const vector *v, size_t k, split *s, size_t *buf)
{
	(void)v, (void)buf;
	*s = (split){NULL, 0, 0, "in one piece"};
	return k == 0;
}

static size_t own_chunks(const vector *v, size_t k, split *s, size_t *buf)
{
	(void)buf;
	*s = (split){v->cuts, v->ncuts, 0, "in its chunks"};
	return k == 0 && v->has_chunks;
}

static size_t bytewise(const vector *v, size_t k, split *s, size_t *buf)
{
	(void)buf;
	if (v->len > BYTEWISE_MAX)
		*s = (split){NULL, 0, BIG_STEP, "in 65521-byte pieces"};
	else
		*s = (split){NULL, 0, 1, "byte by byte"};
	return k == 0;
}

/* k runs over 0..len: one cut at k (0 and len: an empty piece). */
static size_t every_split(const vector *v, size_t k, split *s, size_t *buf)
{
	if (v->len >= EVERY_SPLIT_MAX || k > v->len)
		return 0;
	buf[0] = k;
	*s = (split){buf, 1, 0, ""};
	snprintf(s->how, sizeof s->how, "cut at %zu", k);
	return 1;
}

/* k runs over the pairs 0 <= i <= j <= len. */
static size_t every_pair(const vector *v, size_t k, split *s, size_t *buf)
{
	if (v->len >= EVERY_PAIR_MAX)
		return 0;
	size_t n = v->len + 1;
	for (size_t i = 0; i < n; i++) {
		if (k < n - i) {
			buf[0] = i;
			buf[1] = i + k;
			*s = (split){buf, 2, 0, ""};
			snprintf(s->how, sizeof s->how, "cut at %zu and %zu",
				 buf[0], buf[1]);
			return 1;
		}
		k -= n - i;
	}
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

/* FRAME-1..4, FRAME-6, RECV-1..7, SEC-1: every vector, fed at once. */
static void vectors_frames_whole(void **state)
{
	(void)state;
	replay_all(whole);
}

/* FRAME-7: the pieces each vector names. */
static void vectors_frames_chunks(void **state)
{
	(void)state;
	replay_all(own_chunks);
}

/* FRAME-7: one byte per feed (BIG_STEP bytes for the 16 MiB frame). */
static void vectors_frames_byte_by_byte(void **state)
{
	(void)state;
	replay_all(bytewise);
}

/* FRAME-7: two pieces, cut anywhere. */
static void vectors_frames_every_split(void **state)
{
	(void)state;
	replay_all(every_split);
}

/* FRAME-7: three pieces, cut anywhere. */
static void vectors_frames_every_pair_of_splits(void **state)
{
	(void)state;
	replay_all(every_pair);
}

/* The file parses, ids are unique, and every outcome and both message
 * forms occur, so no branch of a consumer goes untested. */
static void vectors_frames_schema(void **state)
{
	(void)state;
	load_all();
	static const int outcomes[] = {OUTCOME_OPEN, DUCT_EOF, DUCT_ETRUNCATED,
				       DUCT_EMAGIC, DUCT_ETOOBIG};
	size_t seen[5] = {0}, digests = 0, patterned = 0, chunked = 0;
	for (size_t i = 0; i < nvecs; i++) {
		const vector *v = &vecs[i];
		for (size_t j = 0; j < i; j++)
			if (!strcmp(v->id, vecs[j].id))
				fail_msg("duplicate id %s", v->id);
		for (size_t k = 0; k < 5; k++)
			seen[k] += v->outcome == outcomes[k];
		digests += v->nmsgs && !v->msgs[0].data;
		patterned += v->patterned;
		chunked += v->has_chunks;
	}
	assert_true(nvecs >= 60);
	for (size_t k = 0; k < 5; k++)
		if (!seen[k])
			fail_msg("no vector has outcome %s",
				 outcome_name(outcomes[k]));
	assert_true(digests > 0 && patterned > 0 && chunked > 0);
}

/* The checked-in file is what the generator writes. */
static void vectors_frames_regenerate(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0)
		skip();
	char out[] = "/tmp/duct_frame_vectors_XXXXXX", cmd[512];
	int fd = mkstemp(out);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -B '%s' '%s' && cmp -s '%s' '%s'", GENERATOR,
		 out, out, FRAMES);
	int rc = system(cmd);
	unlink(out);
	if (rc != 0)
		fail_msg("regenerated vectors differ from %s: run %s", FRAMES,
			 GENERATOR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors_frames_schema),
		cmocka_unit_test(vectors_frames_whole),
		cmocka_unit_test(vectors_frames_chunks),
		cmocka_unit_test(vectors_frames_byte_by_byte),
		cmocka_unit_test(vectors_frames_every_split),
		cmocka_unit_test(vectors_frames_every_pair_of_splits),
		cmocka_unit_test(vectors_frames_regenerate),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
