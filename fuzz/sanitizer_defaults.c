/*
 * Sanitizer defaults compiled into the libFuzzer and AFL++ binaries, so they
 * behave the same run by hand, by ci/fuzz.sh or by afl-fuzz.  Options in
 * UBSAN_OPTIONS still override these, key by key.
 *
 * halt_on_error: pointer-overflow is built recoverable (fuzz/CMakeLists.txt)
 * only so that the suppressions in fuzz/ubsan.supp can apply; any report
 * that is not suppressed still stops the run, as -fno-sanitize-recover=all
 * would.
 */
#ifndef DUCT_FUZZ_UBSAN_SUPP
#error "DUCT_FUZZ_UBSAN_SUPP: the path of fuzz/ubsan.supp"
#endif

const char *__ubsan_default_options(void);

const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1:"
	       "suppressions=" DUCT_FUZZ_UBSAN_SUPP;
}
