/* Address strings: "unix:PATH" and "tcp:HOST:PORT" (ADDR-1..3). */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "internal.h"

static int copy(char *dst, size_t n, const char *src, size_t len)
{
	if (len >= n)
		return DUCT_EADDR;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return DUCT_OK;
}

int duct__addr_parse(const char *s, struct duct__addr *a)
{
	memset(a, 0, sizeof *a);
	if (s == NULL || strcmp(s, "unix:") == 0) {
		a->unix_domain = 1;
		return DUCT_OK;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		a->unix_domain = 1;
		return copy(a->path, sizeof a->path, s + 5, strlen(s + 5));
	}
	if (strncmp(s, "tcp:", 4) != 0)
		return DUCT_EADDR;
	s += 4;
	if (*s == '\0') { /* ADDR-3: loopback, ephemeral port */
		strcpy(a->host, "localhost");
		strcpy(a->port, "0");
		return DUCT_OK;
	}
	const char *colon;
	if (*s == '[') { /* an IPv6 literal: tcp:[::1]:4242 */
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return DUCT_EADDR;
		if (copy(a->host, sizeof a->host, s + 1, (size_t)(close - s - 1)))
			return DUCT_EADDR;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || colon == s)
			return DUCT_EADDR;
		if (copy(a->host, sizeof a->host, s, (size_t)(colon - s)))
			return DUCT_EADDR;
	}
	const char *port = colon + 1;
	size_t digits = strspn(port, "0123456789");
	if (digits == 0 || port[digits] != '\0' || digits > 5 ||
	    atol(port) > 65535)
		return DUCT_EADDR;
	return copy(a->port, sizeof a->port, port, digits);
}

int duct__addr_format(int fd, int peer, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
		      : getsockname(fd, (struct sockaddr *)&ss, &len);
	if (rc != 0)
		return DUCT_ESTATE;
	if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;
		snprintf(out, n, "unix:%s", un->sun_path);
		return DUCT_OK;
	}
	char host[NI_MAXHOST], port[NI_MAXSERV];
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port,
			sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return DUCT_EADDR;
	snprintf(out, n, ss.ss_family == AF_INET6 ? "tcp:[%s]:%s" : "tcp:%s:%s",
		 host, port);
	return DUCT_OK;
}
