/*
 * httpcheck PORT [PATH]: the image's healthcheck. Sends "GET PATH" to
 * 127.0.0.1:PORT and exits 0 when the status line says 200, 1 otherwise.
 * Images FROM scratch have no shell and no curl; this is a few kilobytes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char req[512], resp[64];
	struct sockaddr_in sa;
	struct timeval tv = { 5, 0 };
	long port;
	size_t got = 0;
	int fd, n;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s PORT [PATH]\n", argv[0]);
		return 2;
	}
	port = strtol(argv[1], NULL, 10);
	if (port < 1 || port > 65535) {
		fprintf(stderr, "httpcheck: bad port %s\n", argv[1]);
		return 2;
	}
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: httpcheck\r\n\r\n", argc == 3 ? argv[2] : "/");
	if (n < 0 || (size_t)n >= sizeof(req)) {
		fprintf(stderr, "httpcheck: path too long\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0
	    || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0
	    || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0
	    || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0
	    || write(fd, req, (size_t)n) != n) {
		perror("httpcheck");
		return 1;
	}
	while (got < sizeof(resp) - 1 && (n = (int)read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)n;
	resp[got] = '\0';
	close(fd);
	if (strncmp(resp, "HTTP/1.", 7) == 0 && strncmp(resp + 8, " 200 ", 5) == 0)
		return 0;
	fprintf(stderr, "httpcheck: %.*s\n", (int)strcspn(resp, "\r\n"), resp);
	return 1;
}
