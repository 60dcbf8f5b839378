/* Console, JUnit XML, JSON and matrix (Markdown + HTML) reports. */
#include <stdlib.h>
#include <string.h>

#include "report.h"

const char *role_name(enum role r)
{
	return r == ROLE_PARENT ? "parent" : r == ROLE_CHILD ? "child" : "pair";
}
const char *tr_name(enum transport t) { return t == TR_UNIX ? "unix" : "tcp"; }
const char *level_name(enum level l)
{
	return l == LV_MUST ? "MUST" : l == LV_SHOULD ? "SHOULD" : "MAY";
}

const char *grade(const run *R, const result *r)
{
	switch (r->verdict) {
	case V_PASS:
		return "PASS";
	case V_UNSUPPORTED:
		return "UNSUPPORTED";
	case V_SKIP:
		return "SKIP";
	case V_XFAIL:
		return "XFAIL";
	case V_XPASS:
		return "XPASS";
	case V_FAIL:
		break;
	}
	/* MUST -> FAIL, SHOULD -> NON-STRICT, MAY -> INFO (Wycheproof's
	 * invalid / acceptable split, applied to requirement levels). */
	if (r->kase->level == LV_MUST || (R->strict && r->kase->level == LV_SHOULD))
		return "FAIL";
	return r->kase->level == LV_SHOULD ? "NON-STRICT" : "INFORMATIONAL";
}

int counts_as_failure(const run *R, const result *r)
{
	return r->verdict == V_XPASS || strcmp(grade(R, r), "FAIL") == 0;
}

void report_header(FILE *f, const run *R)
{
	if (!R->nunchecked)
		return;
	fprintf(f, "duct-conform: no case checks these %zu requirements, so a pass says "
		   "nothing of them\n(why: conformance/not-checked, and every report):",
		R->nunchecked);
	for (size_t i = 0; i < R->nunchecked; i++)
		fprintf(f, "%s%s", i % 10 ? " " : "\n    ", R->unchecked[i].id);
	fprintf(f, "\n");
}

void report_console_line(FILE *f, const run *R, const result *r, int verbose)
{
	fprintf(f, "%-13s %-46s %-18s %s/%s", grade(R, r), r->kase->id, r->kase->reqs,
		role_name(r->role), tr_name(r->tr));
	if (R->ntestees > 1)
		fprintf(f, "  [%s]", R->testees[r->testee].name);
	fprintf(f, "\n");
	if (r->msg && (r->verdict != V_PASS || verbose))
		fprintf(f, "%s\n", r->msg);
	if (r->xfail_reason)
		fprintf(f, "            expected failure: %s\n", r->xfail_reason);
}

void report_summary(FILE *f, const run *R)
{
	size_t pass = 0, fail = 0, skip = 0, nonstrict = 0, info = 0, xfail = 0;
	for (size_t i = 0; i < R->n; i++) {
		const char *g = grade(R, &R->r[i]);
		if (!strcmp(g, "PASS"))
			pass++;
		else if (counts_as_failure(R, &R->r[i]))
			fail++;
		else if (!strcmp(g, "UNSUPPORTED") || !strcmp(g, "SKIP"))
			skip++;
		else if (!strcmp(g, "NON-STRICT"))
			nonstrict++;
		else if (!strcmp(g, "INFORMATIONAL"))
			info++;
		else
			xfail++;
	}
	fprintf(f, "\n%zu results: %zu SHOULD not met (NON-STRICT), %zu MAY not met (INFORMATIONAL), "
		   "%zu expected failures\n",
		R->n, nonstrict, info, xfail);
	fprintf(f, "%zu passed, %zu failed", pass, fail);
	if (skip)
		fprintf(f, ", %zu skipped", skip);
	fprintf(f, "\n");
}

static void xml_escape(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* XML 1.0 has no control characters but tab and newline. */
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				fputc(*s, f);
		}
	}
}

int report_junit(const run *R, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"duct-conform\">\n");
	for (size_t t = 0; t < R->ntestees; t++) {
		size_t tests = 0, failures = 0, skipped = 0;
		for (size_t i = 0; i < R->n; i++) {
			const result *r = &R->r[i];
			if (r->testee != (int)t)
				continue;
			tests++;
			failures += counts_as_failure(R, r) != 0;
			skipped += r->verdict == V_UNSUPPORTED || r->verdict == V_SKIP;
		}
		fprintf(f, "  <testsuite name=\"");
		xml_escape(f, R->testees[t].name);
		fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n", tests, failures,
			skipped);
		fprintf(f, "    <properties>\n      <property name=\"network\" value=\"");
		xml_escape(f, net_describe());
		fprintf(f, "\"/>\n");
		for (size_t i = 0; i < R->nunchecked; i++) {
			fprintf(f, "      <property name=\"not-checked %s\" value=\"",
				R->unchecked[i].id);
			xml_escape(f, R->unchecked[i].reason);
			fprintf(f, "\"/>\n");
		}
		fprintf(f, "    </properties>\n");
		for (size_t i = 0; i < R->n; i++) {
			const result *r = &R->r[i];
			if (r->testee != (int)t)
				continue;
			fprintf(f, "    <testcase classname=\"%s/%s\" name=\"", role_name(r->role),
				tr_name(r->tr));
			xml_escape(f, r->kase->id);
			fprintf(f, " (%s %s)\" time=\"%.3f\">\n", level_name(r->kase->level),
				r->kase->reqs, r->ms / 1000.0);
			if (counts_as_failure(R, r)) {
				fprintf(f, "      <failure message=\"%s\">", grade(R, r));
				xml_escape(f, r->msg ? r->msg : "passed but listed as an expected failure");
				fprintf(f, "</failure>\n");
			} else if (r->verdict == V_UNSUPPORTED || r->verdict == V_SKIP) {
				fprintf(f, "      <skipped message=\"");
				xml_escape(f, r->msg);
				fprintf(f, "\"/>\n");
			} else if (r->msg) {
				fprintf(f, "      <system-out>%s: ", grade(R, r));
				xml_escape(f, r->msg);
				fprintf(f, "</system-out>\n");
			}
			fprintf(f, "    </testcase>\n");
		}
		fprintf(f, "  </testsuite>\n");
	}
	fprintf(f, "</testsuites>\n");
	return fclose(f);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_testee_fields(FILE *f, const testee_def *d)
{
	fprintf(f, "\"command\": ");
	json_string(f, d->cmd);
	fprintf(f, ", \"hello\": ");
	if (d->hello)
		json_string(f, d->hello);
	else
		fputs("null", f);
}

static void json_testee(FILE *f, const testee_def *d)
{
	fprintf(f, "{\"name\": ");
	json_string(f, d->name);
	fprintf(f, ", ");
	json_testee_fields(f, d);
	fputc('}', f);
}

int report_json(const run *R, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "{\"tool\": \"duct-conform\", \"contract\": 1, \"strict\": %s, \"network\": ",
		R->strict ? "true" : "false");
	json_string(f, net_describe());
	fprintf(f, ", \"testees\": [");
	/* An interop run's testees are pairs: each names its two sides, and
	 * each side's command and hello. */
	for (size_t t = 0; t < R->ntestees; t++) {
		const testee_def *d = &R->testees[t];
		fprintf(f, "%s\n  {\"name\": ", t ? "," : "");
		json_string(f, d->name);
		if (d->parent) {
			fprintf(f, ", \"parent\": ");
			json_testee(f, d->parent);
			fprintf(f, ", \"child\": ");
			json_testee(f, d->child);
		} else {
			fprintf(f, ", ");
			json_testee_fields(f, d);
		}
		fputc('}', f);
	}
	fprintf(f, "],\n \"not_checked\": [");
	for (size_t i = 0; i < R->nunchecked; i++) {
		fprintf(f, "%s\n  {\"id\": ", i ? "," : "");
		json_string(f, R->unchecked[i].id);
		fprintf(f, ", \"reason\": ");
		json_string(f, R->unchecked[i].reason);
		fputc('}', f);
	}
	fprintf(f, "],\n \"results\": [");
	for (size_t i = 0; i < R->n; i++) {
		const result *r = &R->r[i];
		fprintf(f, "%s\n  {\"testee\": ", i ? "," : "");
		json_string(f, R->testees[r->testee].name);
		fprintf(f, ", \"id\": ");
		json_string(f, r->kase->id);
		fprintf(f, ", \"requirements\": ");
		json_string(f, r->kase->reqs);
		fprintf(f, ", \"level\": \"%s\", \"role\": \"%s\", \"transport\": \"%s\", "
			   "\"grade\": \"%s\", \"ms\": %ld, \"message\": ",
			level_name(r->kase->level), role_name(r->role), tr_name(r->tr), grade(R, r),
			r->ms);
		if (r->msg)
			json_string(f, r->msg);
		else
			fputs("null", f);
		fputc('}', f);
	}
	fprintf(f, "\n]}\n");
	return fclose(f);
}

/* An interop run's pairs as parent (rows) x child (columns), each cell the
 * results that did not fail out of those run. */
static void pair_grid(FILE *m, FILE *h, const run *R)
{
	/* The implementations in order: the children of the first parent. */
	const testee_def *impl[64];
	size_t n = 0;
	for (size_t t = 0; t < R->ntestees && n < 64; t++)
		if (R->testees[t].parent == R->testees[0].parent)
			impl[n++] = R->testees[t].child;
	fprintf(m, "| parent \\ child |");
	fprintf(h, "<table><tr><th>parent \\ child</th>");
	for (size_t y = 0; y < n; y++) {
		fprintf(m, " %s |", impl[y]->name);
		fprintf(h, "<th>");
		xml_escape(h, impl[y]->name);
		fprintf(h, "</th>");
	}
	fprintf(m, "\n|---|");
	for (size_t y = 0; y < n; y++)
		fprintf(m, "---|");
	fprintf(h, "</tr>\n");
	for (size_t x = 0; x < n; x++) {
		fprintf(m, "\n| %s |", impl[x]->name);
		fprintf(h, "<tr><th>");
		xml_escape(h, impl[x]->name);
		fprintf(h, "</th>");
		for (size_t y = 0; y < n; y++) {
			size_t ran = 0, ok = 0;
			for (size_t i = 0; i < R->n; i++) {
				const testee_def *d = &R->testees[R->r[i].testee];
				if (d->parent == impl[x] && d->child == impl[y]) {
					ran++;
					ok += !counts_as_failure(R, &R->r[i]);
				}
			}
			const char *g = ok == ran ? "PASS" : "FAIL";
			fprintf(m, " %s %zu/%zu |", g, ok, ran);
			fprintf(h, "<td class=\"%s\">%zu/%zu</td>", g, ok, ran);
		}
		fprintf(h, "</tr>\n");
	}
	fprintf(m, "\n\n");
	fprintf(h, "</table><p>\n");
}

/* One row per case and configuration, one column per testee (Autobahn's
 * side-by-side table); an interop run's pair grid first. */
int report_matrix(const run *R, const char *base)
{
	char md[512], html[512];
	snprintf(md, sizeof md, "%s.md", base);
	snprintf(html, sizeof html, "%s.html", base);
	FILE *m = fopen(md, "w"), *h = fopen(html, "w");
	if (!m || !h) {
		if (m)
			fclose(m);
		if (h)
			fclose(h);
		return -1;
	}
	fprintf(h, "<!doctype html><meta charset=\"utf-8\"><title>duct-conform matrix</title>\n"
		   "<style>body{font:14px sans-serif}td,th{border:1px solid #ccc;padding:2px 6px}"
		   "table{border-collapse:collapse}.PASS{background:#cfc}.FAIL{background:#fbb}"
		   ".NON-STRICT{background:#fe9}.INFORMATIONAL{background:#def}</style>\n");
	if (R->ntestees && R->testees[0].parent)
		pair_grid(m, h, R);
	fprintf(m, "| case | requirements | level | role/transport |");
	fprintf(h, "<table><tr><th>case</th><th>requirements</th><th>level</th><th>role/transport</th>");
	for (size_t t = 0; t < R->ntestees; t++) {
		fprintf(m, " %s |", R->testees[t].name);
		fprintf(h, "<th>");
		xml_escape(h, R->testees[t].name);
		fprintf(h, "</th>");
	}
	fprintf(m, "\n|---|---|---|---|");
	for (size_t t = 0; t < R->ntestees; t++)
		fprintf(m, "---|");
	fprintf(m, "\n");
	fprintf(h, "</tr>\n");
	/* Results come in testee order; rows are the first testee's. */
	for (size_t i = 0; i < R->n; i++) {
		const result *row = &R->r[i];
		if (row->testee != 0)
			continue;
		fprintf(m, "| %s | %s | %s | %s/%s |", row->kase->id, row->kase->reqs,
			level_name(row->kase->level), role_name(row->role), tr_name(row->tr));
		fprintf(h, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s/%s</td>", row->kase->id,
			row->kase->reqs, level_name(row->kase->level), role_name(row->role),
			tr_name(row->tr));
		for (size_t t = 0; t < R->ntestees; t++) {
			const char *g = "-";
			const char *msg = NULL;
			for (size_t k = 0; k < R->n; k++) {
				const result *r = &R->r[k];
				if (r->testee == (int)t && r->kase == row->kase && r->role == row->role &&
				    r->tr == row->tr) {
					g = grade(R, r);
					msg = r->msg;
				}
			}
			fprintf(m, " %s |", g);
			fprintf(h, "<td class=\"%s\" title=\"", g);
			xml_escape(h, msg ? msg : "");
			fprintf(h, "\">%s</td>", g);
		}
		fprintf(m, "\n");
		fprintf(h, "</tr>\n");
	}
	fprintf(h, "</table>\n");
	if (R->nunchecked) {
		fprintf(m, "\nNo case checks these requirements, so a pass says nothing of them:\n\n");
		fprintf(h, "<p>No case checks these requirements, so a pass says nothing of them:<ul>\n");
		for (size_t i = 0; i < R->nunchecked; i++) {
			fprintf(m, "- %s: %s\n", R->unchecked[i].id, R->unchecked[i].reason);
			fprintf(h, "<li>%s: ", R->unchecked[i].id);
			xml_escape(h, R->unchecked[i].reason);
			fprintf(h, "</li>\n");
		}
		fprintf(h, "</ul>\n");
	}
	fclose(m);
	return fclose(h);
}
