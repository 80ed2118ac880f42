/* vclient_metrics.c -- the service's own metrics endpoint, for the probe check's tests.
 *
 *   vclient_metrics FILE     prints "listening PORT" (127.0.0.1, any free port), serves until killed
 *
 * Every request reads the number in FILE (0 if absent) and answers, HTTP/1.0 style (close after):
 *   GET /metrics   Prometheus text: go_goroutines V, app_conns{pool="a"} V, app_conns{pool="b"} 1
 *   GET /vars      JSON: {"runtime": {"goroutines": V}, "list": [V]}
 *   anything else  404
 * The test writes FILE to play a service whose goroutines come back after a fault, or leak.
 * One request at a time, each bounded by a 2 s receive timeout.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) { fprintf(stderr, "usage: vclient_metrics FILE\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    socklen_t al = sizeof(a);
    if (bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 64) < 0) { perror("bind"); return 1; }
    getsockname(ls, (struct sockaddr *)&a, &al);
    printf("listening %d\n", ntohs(a.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        struct timeval tv = {2, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        char req[4096];
        size_t n = 0;
        while (n < sizeof(req) - 1) {
            ssize_t r = recv(fd, req + n, sizeof(req) - 1 - n, 0);
            if (r <= 0) break;
            n += (size_t)r;
            req[n] = 0;
            if (strstr(req, "\r\n\r\n")) break;
        }
        req[n] = 0;
        double v = 0;
        FILE *f = fopen(argv[1], "r");
        if (f) { if (fscanf(f, "%lf", &v) != 1) v = 0; fclose(f); }
        char body[1024], out[1400];
        const char *type = "text/plain; version=0.0.4";
        int status = 200;
        if (!strncmp(req, "GET /metrics", 12)) {
            snprintf(body, sizeof(body),
                     "# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\n"
                     "go_goroutines %g\napp_conns{pool=\"a\"} %g\napp_conns{pool=\"b\"} 1\n", v, v);
        } else if (!strncmp(req, "GET /vars", 9)) {
            type = "application/json";
            snprintf(body, sizeof(body), "{\"runtime\": {\"goroutines\": %g}, \"list\": [%g]}\n", v, v);
        } else {
            status = 404;
            snprintf(body, sizeof(body), "not found\n");
        }
        int m = snprintf(out, sizeof(out), "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n%s", status,
                         status == 200 ? "OK" : "Not Found", type, strlen(body), body);
        if (send(fd, out, (size_t)m, MSG_NOSIGNAL) < 0) { /* the prober went away */ }
        close(fd);
    }
}
