/*
 * The hand-written cases, one file per section of PROTOCOL.md (case_*.c);
 * vector-driven cases are in vectors.c, the interop cases in interop.c.
 * Each case names the requirements it checks; ids are stable
 * (`section.slug`) and never renumbered.
 */
#include <stdlib.h>

#include "conform.h"

void cases_builtin(conf_case **v, size_t *n)
{
	cases_frame(v, n);
	cases_recv(v, n);
	cases_send(v, n);
	cases_life(v, n);
	cases_addr(v, n);
	cases_poll(v, n);
	cases_json(v, n);
	cases_sec(v, n);
}

void cases_free(conf_case *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].free_arg)
			v[i].free_arg(v[i].arg);
	free(v);
	cases_vectors_free();
}
