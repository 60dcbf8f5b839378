/* Status code names and messages, generated from DUCT_ERRNO_MAP. */
#include <string.h>

#include "duct/error.h"

const char *duct_strerror(int code)
{
	if (code <= DUCT_ESYS_BASE)
		return strerror(duct_errno(code));
	switch (code) {
#define DUCT__MSG(name, value, msg)                                            \
	case DUCT_##name:                                                      \
		return msg;
		DUCT_ERRNO_MAP(DUCT__MSG)
#undef DUCT__MSG
	case DUCT_NEED_MORE:
		return "more input needed";
	}
	return "unknown status code";
}

const char *duct_err_name(int code)
{
	if (code <= DUCT_ESYS_BASE)
		return "DUCT_ESYS";
	switch (code) {
#define DUCT__NAME(name, value, msg)                                           \
	case DUCT_##name:                                                      \
		return "DUCT_" #name;
		DUCT_ERRNO_MAP(DUCT__NAME)
#undef DUCT__NAME
	case DUCT_NEED_MORE:
		return "DUCT_NEED_MORE";
	}
	return "DUCT_UNKNOWN";
}

int duct_is_peer_error(int code)
{
	return code == DUCT_EOF || code == DUCT_ETRUNCATED ||
	       code == DUCT_EMAGIC || code == DUCT_ETOOBIG || code == DUCT_EPIPE;
}
