/* Names shared between libduct's source files; not installed. */
#ifndef DUCT_INTERNAL_H
#define DUCT_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "duct/duct.h"

/* Every allocation goes through these, so duct_set_allocator() sees it. */
void *duct__malloc(size_t n);
void *duct__realloc(void *p, size_t n);
void duct__free(void *p);

/* Makes room for at least need bytes in b (geometric growth). */
int duct__buf_reserve(duct_buf *b, size_t need);

/* A parsed "unix:PATH" or "tcp:HOST:PORT" address (ADDR-1, ADDR-2). */
struct duct__addr {
	int unix_domain;
	char path[108];      /* empty: a fresh private path (SEC-2) */
	char host[256];
	char port[8];
};

/* DUCT_OK or DUCT_EADDR. */
int duct__addr_parse(const char *s, struct duct__addr *a);
/* Writes the address fd is bound or connected to as "unix:..." or
 * "tcp:HOST:PORT"; peer selects the remote end.  DUCT_OK or an error. */
int duct__addr_format(int fd, int peer, char *out, size_t n);

enum duct__role { DUCT__PARENT, DUCT__CHILD, DUCT__CONNECTED };

struct duct {
	enum duct__role role;
	int fd;                  /* the connection, -1 if none */
	int lfd;                 /* a parent's listener, -1 if none */
	int unix_bound;          /* addr.path exists and is ours to unlink */
	int dead;                /* recv hit a protocol error: shut down once */
	int send_broken;         /* a send failed mid-frame (SEND-5) */
	int send_ms, recv_ms;
	int retries, retry_ms;
	long peer_uid;
	int last_errno;
	int locking;
	pthread_mutex_t send_mu, recv_mu;
	struct duct__addr addr;
	char privdir[108];       /* private 0700 directory we made, or "" */
	pid_t owner;             /* the process that made path and privdir */
	char address[300];       /* printable address, "" before bind */
	duct_reader *rd;
	duct_serializer ser;
	duct_buf enc;            /* reused by duct_send_value: no malloc per message */
};

/* Applies the socket options every connection gets (timeouts, nodelay). */
int duct__setup_conn(duct *d);
/* A deadline timeout_ms from now (-1: none), and the milliseconds left
 * until it, rounded up (-1: no deadline). */
int64_t duct__deadline(int timeout_ms);
int duct__remaining(int64_t deadline);
/* poll() one fd for events, retrying EINTR with the remaining time.
 * Returns 1 ready, 0 timed out, or a system error. */
int duct__wait(int fd, short events, int timeout_ms);

#endif
