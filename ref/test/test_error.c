/* Status codes: names, messages, classes (duct_strerror, duct_err_name). */
#include <errno.h>
#include <string.h>

#include "testutil.h"

static void error_strerror_known(void **state)
{
	(void)state;
	assert_string_equal(duct_strerror(DUCT_OK), "success");
	assert_string_equal(duct_strerror(DUCT_EOF), "remote duct closed");
	assert_string_equal(duct_strerror(DUCT_ETRUNCATED),
			    "remote duct closed mid-message");
	assert_string_equal(duct_err_name(DUCT_EMAGIC), "DUCT_EMAGIC");
	assert_string_equal(duct_err_name(DUCT_EVALUE), "DUCT_EVALUE");
	assert_string_equal(duct_err_name(DUCT_NEED_MORE), "DUCT_NEED_MORE");
	assert_string_equal(duct_strerror(DUCT_NEED_MORE), "more input needed");
	/* Every code in the table has its own name and message. */
	for (int c = DUCT_EVALUE; c <= DUCT_OK; c++) {
		assert_string_not_equal(duct_err_name(c), "DUCT_UNKNOWN");
		assert_string_not_equal(duct_strerror(c), "unknown status code");
		for (int o = c + 1; o <= DUCT_OK; o++)
			assert_string_not_equal(duct_strerror(c), duct_strerror(o));
	}
}

static void error_strerror_unknown(void **state)
{
	(void)state;
	assert_string_equal(duct_err_name(-999), "DUCT_UNKNOWN");
	assert_string_equal(duct_strerror(-999), "unknown status code");
	assert_string_equal(duct_err_name(42), "DUCT_UNKNOWN");
}

static void error_strerror_wrapped(void **state)
{
	(void)state;
	int code = duct_syserr(ECONNRESET);
	assert_int_equal(code, DUCT_ESYS_BASE - ECONNRESET);
	assert_int_equal(duct_errno(code), ECONNRESET);
	assert_int_equal(duct_errno(DUCT_EOF), 0);
	assert_string_equal(duct_err_name(code), "DUCT_ESYS");
	assert_string_equal(duct_strerror(code), strerror(ECONNRESET));
}

static void error_is_peer_error_classes(void **state)
{
	(void)state;
	assert_true(duct_is_peer_error(DUCT_EOF));
	assert_true(duct_is_peer_error(DUCT_ETRUNCATED));
	assert_true(duct_is_peer_error(DUCT_EMAGIC));
	assert_true(duct_is_peer_error(DUCT_ETOOBIG));
	assert_true(duct_is_peer_error(DUCT_EPIPE));
	assert_false(duct_is_peer_error(DUCT_ETIMEDOUT));
	assert_false(duct_is_peer_error(DUCT_ENOMEM));
	assert_false(duct_is_peer_error(duct_syserr(EPIPE)));
	assert_false(duct_is_peer_error(DUCT_OK));
}

/* duct_buf: grows, refuses sizes it cannot hold, frees to empty. */
static void error_buf_append_limits(void **state)
{
	(void)state;
	duct_buf b = {0};
	for (int i = 0; i < 1000; i++)
		assert_status(DUCT_OK, duct_buf_append(&b, "abc", 3));
	assert_int_equal(b.len, 3000);
	assert_memory_equal(b.data + 2997, "abc", 3);
	assert_status(DUCT_ENOMEM, duct_buf_append(&b, "x", SIZE_MAX - 10));
	assert_int_equal(b.len, 3000);
	tu_alloc_install();
	tu_fail_after = 0;
	assert_status(DUCT_ENOMEM, duct_buf_append(&b, "x", b.cap));
	tu_alloc_uninstall();
	duct_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_status(DUCT_OK, duct_buf_append(&b, NULL, 0));
	duct_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_strerror_known),
		cmocka_unit_test(error_strerror_unknown),
		cmocka_unit_test(error_strerror_wrapped),
		cmocka_unit_test(error_is_peer_error_classes),
		cmocka_unit_test(error_buf_append_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
