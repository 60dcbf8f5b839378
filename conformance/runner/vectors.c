/*
 * Cases made from the vector files (vectors/README.md): every frame vector
 * is replayed over the socket with its chunking, and every JSON vector is
 * echoed through the testee's default serializer.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"

typedef struct {
	bytes stream;
	size_t *chunks;
	size_t nchunks;
	long max;                 /* -1: the testee's default */
	char **want;              /* expected replies to recv / recv-digest */
	int *big;                 /* want[i] is a recv-digest reply */
	size_t nwant;
	char outcome[16], after_close[16];
} fvec;

typedef struct {
	char id[96];
	int encode;               /* an encode vector: python bytes round trip */
	bytes input, python, duct; /* duct: the acceptable alternative, if any */
	int duct_error;           /* acceptable alternative: refusing */
	char grade[16];
} jvec;

static const char *str(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* Requirement levels come from PROTOCOL.md itself: "**ID** (LEVEL". */
static char *spec;

static enum level req_level(const char *id)
{
	char key[32];
	snprintf(key, sizeof key, "**%s** (", id);
	const char *p = spec ? strstr(spec, key) : NULL;
	if (!p)
		return LV_MUST;
	p += strlen(key);
	return !strncmp(p, "MAY", 3) ? LV_MAY : !strncmp(p, "SHOULD", 6) ? LV_SHOULD : LV_MUST;
}

/* Fills id, reqs and the strongest level of the vector's requirements. */
static void head(conf_case *k, json_object *v, const char *prefix)
{
	snprintf(k->id, sizeof k->id, "%s%s", prefix, str(v, "id"));
	json_object *reqs;
	k->level = LV_MAY;
	if (json_object_object_get_ex(v, "requirements", &reqs)) {
		for (size_t i = 0; i < json_object_array_length(reqs); i++) {
			const char *r = json_object_get_string(json_object_array_get_idx(reqs, i));
			size_t n = strlen(k->reqs);
			snprintf(k->reqs + n, sizeof k->reqs - n, "%s%s", n ? " " : "", r);
			enum level l = req_level(r);
			if (l < k->level)
				k->level = l;
		}
	}
	const char *level = str(v, "level");
	if (level)
		k->level = !strcmp(level, "MAY") ? LV_MAY : !strcmp(level, "SHOULD") ? LV_SHOULD
										: LV_MUST;
	k->about = str(v, "comment");
}

/* The parsed files: the cases' comments point into them. */
static json_object *roots[2];
static size_t nroots;

void cases_vectors_free(void)
{
	while (nroots)
		json_object_put(roots[--nroots]);
	free(spec);
	spec = NULL;
}

static void fvec_free(void *arg)
{
	fvec *v = arg;
	bytes_free(&v->stream);
	free(v->chunks);
	for (size_t i = 0; i < v->nwant; i++)
		free(v->want[i]);
	free(v->want);
	free(v->big);
	free(v);
}

static void jvec_free(void *arg)
{
	jvec *v = arg;
	bytes_free(&v->input);
	bytes_free(&v->python);
	bytes_free(&v->duct);
	free(v);
}

/* ---- frames ------------------------------------------------------------- */

static void frame_vector(cx *c, const void *arg)
{
	const fvec *v = arg;
	if (v->max >= 0) {
		if (cx_cmd(c, 5000, "set-max %ld", v->max))
			return;
		if (strcmp(c->reply, "ok") != 0) {
			cx_unsupported(c, "set-max");
			return;
		}
	}
	int closes = !strcmp(v->outcome, "eof") || !strcmp(v->outcome, "truncated");
	peer_write_async(c, v->stream.p, v->stream.n, v->chunks, v->nchunks, 5, closes);
	for (size_t i = 0; i < v->nwant; i++)
		cx_expect(c, 20000, v->want[i], v->big[i] ? "recv-digest" : "recv");
	if (!strcmp(v->outcome, "open")) {
		/* Nothing more may arrive, and nothing may fail, until we close. */
		if (cx_send_cmd(c, "recv") == 0 && cx_reply_within(c, 300))
			cx_fail(c, "with the stream waiting for more bytes, recv answered '%s'; it "
				"must wait", c->reply);
		peer_join(c, 1);
		shutdown(c->sock, SHUT_WR);
		char want[32];
		snprintf(want, sizeof want, "error %s", v->after_close);
		if (cx_wait_reply(c, 5000) == 0 && !cx_reply_is(c, want))
			cx_fail(c, "after the runner closed: expected '%s', got '%s'", want, c->reply);
		return;
	}
	char want[32];
	snprintf(want, sizeof want, "error %s", v->outcome);
	cx_expect(c, 10000, want, "recv");
	/* A testee that refused the stream may close it under the writer. */
	peer_join(c, closes);
}

static int load_frames(json_object *arr, conf_case **cases, size_t *n)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *x, *e;
		fvec *v = calloc(1, sizeof *v);
		conf_case k = {.fn = frame_vector, .arg = v, .free_arg = fvec_free};
		head(&k, o, "vector.");
		const char *s = str(o, "stream_hex");
		if (s && unhex(s, &v->stream))
			return -1;
		if (json_object_object_get_ex(o, "stream_pattern", &x) && x) {
			for (size_t j = 0; j < json_object_array_length(x); j++) {
				json_object *piece = json_object_array_get_idx(x, j), *len, *seed;
				bytes b = {0};
				if (str(piece, "hex")) {
					unhex(str(piece, "hex"), &b);
				} else if (json_object_object_get_ex(piece, "pattern_len", &len) &&
					   json_object_object_get_ex(piece, "seed", &seed)) {
					b.n = b.cap = (size_t)json_object_get_int64(len);
					b.p = malloc(b.n ? b.n : 1);
					pattern(b.p, b.n, (unsigned)json_object_get_int(seed));
				}
				bytes_put(&v->stream, b.p, b.n);
				bytes_free(&b);
			}
		}
		v->max = json_object_object_get_ex(o, "max", &x) && x ? json_object_get_int64(x) : -1;
		if (json_object_object_get_ex(o, "chunks", &x) && x) {
			v->nchunks = json_object_array_length(x);
			v->chunks = malloc(v->nchunks * sizeof *v->chunks);
			for (size_t j = 0; j < v->nchunks; j++)
				v->chunks[j] = (size_t)json_object_get_int64(json_object_array_get_idx(x, j));
		}
		if (!json_object_object_get_ex(o, "expect", &e))
			return -1;
		snprintf(v->outcome, sizeof v->outcome, "%s", str(e, "outcome"));
		snprintf(v->after_close, sizeof v->after_close, "%s",
			 str(e, "after_close") ? str(e, "after_close") : "eof");
		json_object *msgs;
		int digests = json_object_object_get_ex(e, "messages", &msgs);
		if (!digests && !json_object_object_get_ex(e, "messages_hex", &msgs))
			return -1;
		v->nwant = json_object_array_length(msgs);
		v->want = calloc(v->nwant ? v->nwant : 1, sizeof *v->want);
		v->big = calloc(v->nwant ? v->nwant : 1, sizeof *v->big);
		for (size_t j = 0; j < v->nwant; j++) {
			json_object *m = json_object_array_get_idx(msgs, j);
			if (digests) {
				json_object *len;
				json_object_object_get_ex(m, "len", &len);
				v->big[j] = 1;
				asprintf(&v->want[j], "ok %lld %s", (long long)json_object_get_int64(len),
					 str(m, "fnv1a64"));
			} else {
				const char *h = json_object_get_string(m);
				asprintf(&v->want[j], "ok %s", *h ? h : "-");
			}
		}
		cases_add(cases, n, &k);
	}
	return 0;
}

/* ---- JSON --------------------------------------------------------------- */

static void json_vector(cx *c, const void *arg)
{
	const jvec *v = arg;
	bytes f = frame(v->input.p, v->input.n);
	cx_send_cmd(c, "echo-value");
	peer_write_async(c, f.p, f.n, NULL, 0, 0, 0);
	bytes_free(&f);
	if (cx_wait_reply(c, 10000) || peer_join(c, 1))
		return;
	int refused = !strncmp(c->reply, "error decode", 12) || !strncmp(c->reply, "error range", 11);
	if (!strcmp(v->grade, "invalid")) {
		if (!refused)
			cx_fail(c, "malformed JSON: expected 'error decode', got '%s'", c->reply);
		return;
	}
	if (refused) {
		if (!v->duct_error)
			cx_fail(c, "Python decodes this payload; the testee said '%s'", c->reply);
		return; /* refusing is the acceptable alternative */
	}
	if (strcmp(c->reply, "ok") != 0) {
		cx_fail(c, "echo-value: expected 'ok', got '%s'", c->reply);
		return;
	}
	bytes got = {0};
	if (peer_read_frame(c, &got, 1u << 26, 10000) == 0) {
		int same = got.n == v->python.n && !memcmp(got.p, v->python.p, got.n);
		int alt = v->duct.n && got.n == v->duct.n && !memcmp(got.p, v->duct.p, got.n);
		if (!same && !alt) {
			char *w = hex(v->python.p, v->python.n < 80 ? v->python.n : 80);
			char *g = hex(got.p, got.n < 80 ? got.n : 80);
			cx_fail(c, "the value came back as other bytes than Python's json.dumps "
				"gives\nexpected: %s\ngot:      %s\n(as text: expected %.*s, "
				"got %.*s)", w, g, (int)(v->python.n < 120 ? v->python.n : 120),
				(const char *)v->python.p, (int)(got.n < 120 ? got.n : 120),
				(const char *)got.p);
			free(w);
			free(g);
		}
	}
	bytes_free(&got);
}

static int load_json(json_object *arr, conf_case **cases, size_t *n)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		const char *kind = str(o, "kind");
		if (!kind || (strcmp(kind, "encode") && strcmp(kind, "decode")))
			continue; /* tables for in-process tests only */
		jvec *v = calloc(1, sizeof *v);
		conf_case k = {.fn = json_vector, .arg = v, .free_arg = jvec_free,
			       .flags = CF_ONCE};
		head(&k, o, "");
		snprintf(v->id, sizeof v->id, "%s", k.id);
		v->encode = !strcmp(kind, "encode");
		snprintf(v->grade, sizeof v->grade, "%s", str(o, "grade") ? str(o, "grade") : "valid");
		if (v->encode) {
			unhex(str(o, "python_bytes_hex"), &v->python);
			unhex(str(o, "python_bytes_hex"), &v->input);
		} else {
			unhex(str(o, "input_hex"), &v->input);
			if (str(o, "python_reencoded_hex"))
				unhex(str(o, "python_reencoded_hex"), &v->python);
			if (str(o, "duct_reencoded_hex"))
				unhex(str(o, "duct_reencoded_hex"), &v->duct);
			v->duct_error = !strcmp(v->grade, "acceptable") && str(o, "expect") &&
					!strcmp(str(o, "expect"), "error");
		}
		cases_add(cases, n, &k);
	}
	return 0;
}

/* The interop matrix sends each vector across a pair (interop.c). */
static conf_case *loaded;
static size_t nloaded;

void json_vectors_each(json_vector_fn fn, void *ctx)
{
	for (size_t i = 0; i < nloaded; i++) {
		const jvec *v = loaded[i].arg;
		if (loaded[i].fn == json_vector)
			fn(ctx, v->id, &v->input, &v->python, &v->duct,
			   v->duct_error, !strcmp(v->grade, "invalid"));
	}
}

static int load(const char *path, int (*fn)(json_object *, conf_case **, size_t *),
		conf_case **cases, size_t *n)
{
	json_object *arr = json_object_from_file(path);
	if (arr)
		roots[nroots++] = arr;
	if (!arr || !json_object_is_type(arr, json_type_array) || fn(arr, cases, n) != 0) {
		fprintf(stderr, "duct-conform: cannot load the vectors in %s (use --vectors DIR)\n",
			path);
		return -1;
	}
	return 0;
}

int cases_vectors(const char *dir, conf_case **cases, size_t *n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/../PROTOCOL.md", dir);
	FILE *f = fopen(path, "r");
	if (f) {
		size_t cap = 1 << 20;
		spec = calloc(1, cap);
		fread(spec, 1, cap - 1, f);
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/frames/frames.json", dir);
	if (load(path, load_frames, cases, n))
		return -1;
	snprintf(path, sizeof path, "%s/json/python_json.json", dir);
	int rc = load(path, load_json, cases, n);
	loaded = *cases;
	nloaded = *n;
	return rc;
}
