/*
 * libduct status codes.
 *
 * Every libduct function that can fail returns an int: DUCT_OK (0) on
 * success, a negative code on failure.  A few functions also return the
 * positive DUCT_NEED_MORE, which is not an error.
 *
 * The codes fall into three classes, kept apart on purpose so a caller can
 * tell "the peer misbehaved or went away" from "something failed here":
 *   - peer:  the remote side closed or sent a bad frame (DUCT_EOF ...);
 *   - local: a timeout, a bad argument, no memory, a failed system call;
 *   - value: the serializer could not encode or decode a value.
 * A failed system call is returned as duct_syserr(errno), so the OS error is
 * carried in the code itself rather than in a hidden global.
 */
#ifndef DUCT_ERROR_H
#define DUCT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, message).  The only place codes are defined. */
#define DUCT_ERRNO_MAP(X)                                                      \
	X(OK, 0, "success")                                                    \
	X(EOF, -1, "remote duct closed")                                       \
	X(ETRUNCATED, -2, "remote duct closed mid-message")                    \
	X(EMAGIC, -3, "protocol error: bad magic byte")                        \
	X(ETOOBIG, -4, "protocol error: message length over the limit")        \
	X(EPIPE, -5, "remote duct closed: cannot send")                        \
	X(ETIMEDOUT, -6, "operation timed out")                                 \
	X(ESTATE, -7, "operation not allowed in the duct's current state")     \
	X(EINVAL, -8, "invalid argument")                                      \
	X(ENOMEM, -9, "out of memory")                                         \
	X(EADDR, -10, "malformed address")                                     \
	X(ECONNECT, -11, "could not connect to the parent")                    \
	X(EPEERCRED, -12, "peer credentials refused")                          \
	X(EJSON, -13, "malformed JSON")                                        \
	X(ERANGE, -14, "JSON integer out of the 64-bit range")                 \
	X(EENCODE, -15, "value cannot be encoded")                             \
	X(EVALUE, -16, "valid JSON that libduct cannot represent")

enum duct_status {
#define DUCT__ENUM(name, value, msg) DUCT_##name = value,
	DUCT_ERRNO_MAP(DUCT__ENUM)
#undef DUCT__ENUM
	/* Not an error: the parser needs more input. */
	DUCT_NEED_MORE = 1,
};

/* System errors are DUCT_ESYS_BASE - errno. */
#define DUCT_ESYS_BASE (-1000)

/* Wraps an errno value as a status code. */
static inline int duct_syserr(int errnum) { return DUCT_ESYS_BASE - errnum; }

/* Returns the errno carried by a system error code, 0 for any other code. */
static inline int duct_errno(int code)
{
	return code <= DUCT_ESYS_BASE ? DUCT_ESYS_BASE - code : 0;
}

/* A short English message for code; never NULL.  For a system error it is
 * the OS message.  The string is static (not thread-safe only for system
 * errors, where it comes from strerror). */
const char *duct_strerror(int code);

/* The symbolic name of code, e.g. "DUCT_EMAGIC", "DUCT_ESYS" or
 * "DUCT_UNKNOWN"; never NULL, static storage. */
const char *duct_err_name(int code);

/* Nonzero if code means the peer closed or misbehaved (EOF, ETRUNCATED,
 * EMAGIC, ETOOBIG, EPIPE). */
int duct_is_peer_error(int code);

#ifdef __cplusplus
}
#endif
#endif
