/*
 * The cases of PROTOCOL.md section 8, the default serializer; the JSON
 * vectors are in vectors.c.
 */
#include <string.h>

#include "conform.h"

static void json_error_keeps_connection(cx *c, const void *arg)
{
	(void)arg;
	bytes bad = frame("{bad", 4), good = frame("[1, 2]", 6);
	peer_write(c, bad.p, bad.n);
	if (cx_cmd(c, 5000, "echo-value") == 0 && strncmp(c->reply, "error decode", 12) != 0)
		cx_fail(c, "echo-value of '{bad': expected 'error decode', got '%s'", c->reply);
	peer_write(c, good.p, good.n);
	cx_expect(c, 5000, "ok", "echo-value");
	peer_expect_frame(c, "[1, 2]", 6, 5000);
	bytes_free(&bad);
	bytes_free(&good);
}

static const conf_case cases[] = {
	{"json.error_keeps_connection", "JSON-11", LV_MUST, 0, json_error_keeps_connection,
	 NULL, "a payload that does not decode costs that message only", NULL, NULL},
};

void cases_json(conf_case **v, size_t *n)
{
	cases_add_all(v, n, cases, sizeof cases / sizeof cases[0]);
}
