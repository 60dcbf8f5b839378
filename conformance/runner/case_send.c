/*
 * The cases of PROTOCOL.md section 4, sending.
 */
#include <string.h>
#include <unistd.h>

#include "conform.h"

static void send_after_peer_closed(cx *c, const void *arg)
{
	(void)arg;
	peer_close(c);
	for (int i = 0; i < 100 && !cx_failed(c); i++) {
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

static const conf_case cases[] = {
	{"send.after_peer_closed", "SEND-3 SEC-3", LV_MUST, 0, send_after_peer_closed, NULL,
	 "sending to a closed peer fails with 'pipe' and the testee lives (SIGPIPE)", NULL, NULL},
};

void cases_send(conf_case **v, size_t *n)
{
	cases_add_all(v, n, cases, sizeof cases / sizeof cases[0]);
}
