/* Small helpers: byte strings, hex, FNV-1a, the payload pattern, time, and
 * the steps many cases share (cx_parent, cx_expect_pipe, cx_set_timeout). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conform.h"

void bytes_put(bytes *b, const void *p, size_t n)
{
	if (b->cap - b->n < n) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
}

void bytes_free(bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* TESTEE.md: FNV-1a 64. */
uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* TESTEE.md send-pattern: byte i is (7*i + seed) mod 256. */
void pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(7 * i + seed);
}

char *hex(const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	char *s = malloc(2 * n + 2);
	if (n == 0)
		return strcpy(s, "-");
	for (size_t i = 0; i < n; i++) {
		s[2 * i] = d[p[i] >> 4];
		s[2 * i + 1] = d[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int unhex(const char *s, bytes *out)
{
	out->n = 0;
	if (strcmp(s, "-") == 0)
		return 0;
	size_t n = strlen(s);
	if (n % 2)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = nibble(s[i]), lo = nibble(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		uint8_t b = (uint8_t)(hi << 4 | lo);
		bytes_put(out, &b, 1);
	}
	return 0;
}

long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

void appendf(char **s, const char *fmt, ...)
{
	char *add;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&add, fmt, ap) < 0)
		abort();
	va_end(ap);
	size_t old = *s ? strlen(*s) : 0;
	*s = realloc(*s, old + strlen(add) + 1);
	strcpy(*s + old, add);
	free(add);
}

/* A classic hex dump, 16 bytes a line, at most limit bytes. */
void hexdump(char **out, const char *title, const bytes *b, size_t limit)
{
	appendf(out, "    %s (%zu byte%s%s):\n", title, b->n, b->n == 1 ? "" : "s",
		b->n > limit ? ", first shown" : "");
	for (size_t i = 0; i < b->n && i < limit; i += 16) {
		appendf(out, "      %04zx ", i);
		for (size_t k = i; k < i + 16; k++)
			if (k < b->n && k < limit)
				appendf(out, " %02x", b->p[k]);
			else
				appendf(out, "   ");
		appendf(out, "  |");
		for (size_t k = i; k < i + 16 && k < b->n && k < limit; k++)
			appendf(out, "%c", b->p[k] >= 32 && b->p[k] < 127 ? b->p[k] : '.');
		appendf(out, "|\n");
	}
}

void cx_init(cx *c, const conf_case *k, enum role role, enum transport tr, double scale)
{
	memset(c, 0, sizeof *c);
	c->kase = k;
	c->role = role;
	c->tr = tr;
	c->scale = scale;
	c->in_fd = c->out_fd = c->sock = c->lsock = -1;
	c->pid = -1;
}

void cx_release(cx *c)
{
	if (c->stderr_path)
		unlink(c->stderr_path);
	free(c->stderr_path);
	free(c->msg);
	free(c->reply);
	free(c->rbuf);
	bytes_free(&c->sent);
	bytes_free(&c->got);
	bytes_free(&c->ctl);
	c->stderr_path = c->msg = c->reply = c->rbuf = NULL;
}

int cx_ms(const cx *c, int ms)
{
	return (int)(ms * c->scale);
}

void cx_fail(cx *c, const char *fmt, ...)
{
	if (c->verdict != V_PASS)
		return; /* the first failure is the one that matters */
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&c->msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	c->verdict = V_FAIL;
}

static int by_value(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

long median(long *v, size_t n)
{
	qsort(v, n, sizeof v[0], by_value);
	return v[n / 2];
}

long cx_median_ms(cx *c, const char *want, const char *cmd)
{
	long took[3];
	for (int i = 0; i < 3; i++) {
		long t0 = now_ms();
		if (cx_expect(c, 5000, want, "%s", cmd))
			return -1;
		took[i] = now_ms() - t0;
	}
	return median(took, 3);
}

int cx_parent(cx *c, char *addr, size_t n)
{
	char t[64];
	snprintf(t, sizeof t, "%s", c->tr == TR_UNIX ? "unix" : "tcp");
	/* Under --netns its default address, loopback, is out of our reach:
	 * its side of the link instead (TESTEE.md 3.7). */
	if (c->tr == TR_TCP && net_testee_host()) {
		if (!cx_has_feature(c, "bind")) {
			cx_unsupported(c, "bind (--netns needs it for a TCP parent)");
			return -1;
		}
		snprintf(t, sizeof t, "tcp:%s:0", net_testee_host());
	}
	if (cx_cmd(c, 5000, "parent %s", t))
		return -1;
	if (strncmp(c->reply, "ok ", 3) != 0) {
		cx_fail(c, "'parent %s' failed: %s", t, c->reply);
		return -1;
	}
	snprintf(addr, n, "%s", c->reply + 3);
	return 0;
}

int cx_pair_connect(cx *p, cx *ch, int child_first)
{
	char addr[300];
	if (cx_parent(p, addr, sizeof addr) || cx_send_cmd(ch, "child %s", addr))
		return -1;
	if (child_first && cx_wait_reply(ch, 10000) == 0 && strcmp(ch->reply, "ok") != 0)
		cx_fail(ch, "connecting to a bound parent that has not listened yet: expected "
			"'ok' (the connect lands in the backlog), got '%s'", ch->reply);
	if (cx_expect(p, 10000, "ok", "listen 5000"))
		return -1;
	if (!child_first && cx_wait_reply(ch, 10000) == 0 && strcmp(ch->reply, "ok") != 0)
		cx_fail(ch, "'child ...' failed: %s", ch->reply);
	return cx_failed(p) || cx_failed(ch) ? -1 : 0;
}

void cx_expect_pipe(cx *c)
{
	for (int i = 0; i < 100; i++) {
		if (cx_cmd(c, 5000, "send 41"))
			return;
		if (cx_reply_is(c, "error pipe"))
			return;
		if (strcmp(c->reply, "ok") != 0) {
			cx_fail(c, "send to a closed peer: expected 'error pipe', got '%s'", c->reply);
			return;
		}
		usleep(5000); /* TCP learns of the close from the peer's RST */
	}
	cx_fail(c, "100 sends to a closed peer all succeeded (SEND-3)");
}

int cx_optional(cx *c, int ms, const char *cmd)
{
	if (cx_cmd(c, ms, "%s", cmd))
		return -1;
	if (cx_reply_is(c, "error unsupported")) {
		cx_unsupported(c, cmd);
		return -1;
	}
	return 0;
}

int cx_set_timeout(cx *c, int ms)
{
	if (cx_cmd(c, 5000, "set-timeout %d", ms))
		return -1;
	if (strcmp(c->reply, "ok") != 0) {
		cx_unsupported(c, "set-timeout");
		return -1;
	}
	return 0;
}

void cx_unsupported(cx *c, const char *what)
{
	if (c->verdict != V_PASS)
		return;
	c->verdict = V_UNSUPPORTED;
	if (asprintf(&c->msg, "the testee does not offer %s", what) < 0)
		abort();
}

int cx_failed(const cx *c)
{
	return c->verdict != V_PASS;
}

void cases_add(conf_case **v, size_t *n, const conf_case *c)
{
	*v = realloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = *c;
}

/* TESTEE.md send-many: message k has length (k + seed) mod 61, byte i of
 * it is (31k + i) mod 256. */
size_t many_message(size_t k, unsigned seed, uint8_t *p)
{
	size_t len = (k + seed) % 61;
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(31 * k + i);
	return len;
}

uint64_t many_digest(size_t count, unsigned seed)
{
	uint64_t h = FNV_INIT;
	uint8_t p[64], len[4];
	for (size_t k = 0; k < count; k++) {
		size_t n = many_message(k, seed, p);
		len[0] = len[1] = len[2] = 0;
		len[3] = (uint8_t)n;
		h = fnv1a(fnv1a(h, len, 4), p, n);
	}
	return h;
}

void frame_header(uint8_t h[5], uint32_t len)
{
	h[0] = 0x54;
	h[1] = (uint8_t)(len >> 24);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 8);
	h[4] = (uint8_t)len;
}

bytes frame(const void *p, size_t n)
{
	bytes b = {0};
	uint8_t h[5];
	frame_header(h, (uint32_t)n);
	bytes_put(&b, h, 5);
	bytes_put(&b, p, n);
	return b;
}

void cases_add_all(conf_case **v, size_t *n, const conf_case *table, size_t count)
{
	for (size_t i = 0; i < count; i++)
		cases_add(v, n, &table[i]);
}
