/*
 * fwt_http_post_json (src/tuf/client_fetch.c) against a one-request HTTP server on
 * loopback: the body of a POST goes whole with its JSON content type (no "Expect:
 * 100-continue" round trip: the server's body limit, 64 KiB, is below libcurl's 1 MiB
 * threshold for it); the answer comes back whatever its status; one longer than the cap
 * is refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fwtrust/fwtrust_host.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct peer {
    int lfd;
    const char *answer;
    char req[16384];
    size_t n;
    size_t body_len;
};

/* Read one request (headers, then Content-Length bytes), send the answer, close. */
static void *serve_one(void *arg)
{
    struct peer *p = arg;
    int c = accept(p->lfd, NULL, NULL);
    if (c < 0) {
        return NULL;
    }
    size_t want = 0;
    char *end = NULL;
    for (;;) {
        ssize_t r = recv(c, p->req + p->n, sizeof(p->req) - 1 - p->n, 0);
        if (r <= 0) {
            break;
        }
        p->n += (size_t)r;
        p->req[p->n] = 0;
        if (!end && (end = strstr(p->req, "\r\n\r\n"))) {
            const char *cl = strcasestr(p->req, "\r\nContent-Length:");
            want = cl ? strtoul(cl + 17, NULL, 10) : 0;
        }
        if (end && p->n - (size_t)(end + 4 - p->req) >= want) {
            p->body_len = p->n - (size_t)(end + 4 - p->req);
            break;
        }
    }
    if (send(c, p->answer, strlen(p->answer), MSG_NOSIGNAL) < 0) {
        p->body_len = (size_t)-1;
    }
    close(c);
    return NULL;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void post(struct peer *p, const char *body, uint64_t cap, fwt_err want, long want_status, const char *want_resp)
{
    int port = 0;
    p->lfd = listen_any(&port);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve_one, p), 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/checkin", port);
    struct fwt_tuf_transport t = {.timeout_s = 20};
    uint8_t *resp = NULL;
    size_t rl = 0;
    long status = 0;
    assert_int_equal(fwt_http_post_json(&t, url, body, strlen(body), cap, &resp, &rl, &status), want);
    pthread_join(th, NULL);
    close(p->lfd);
    if (want == FWT_OK) {
        assert_int_equal(status, want_status);
        assert_int_equal(rl, strlen(want_resp));
        assert_memory_equal(resp, want_resp, rl);
    }
    free(resp);
}

static void test_body_with_headers(void **state)
{
    (void)state;
    char *body = malloc(4097);
    assert_non_null(body);
    memset(body, ' ', 4096);
    body[0] = '{';
    body[4095] = '}';
    body[4096] = 0;
    struct peer *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->answer = "HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
                "Connection: close\r\n\r\n{\"a\":\"b c\"}";
    post(p, body, 1024, FWT_OK, 409, "{\"a\":\"b c\"}");
    assert_null(strcasestr(p->req, "\r\nExpect:"));
    assert_non_null(strcasestr(p->req, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(p->req, "POST /v1/checkin HTTP/1.1\r\n"));
    assert_int_equal(p->body_len, 4096);
    free(p);
    free(body);
}

static void test_answer_over_cap(void **state)
{
    (void)state;
    struct peer *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->answer = "HTTP/1.1 200 OK\r\nContent-Length: 40\r\nConnection: close\r\n\r\n"
                "{\"x\":\"0123456789012345678901234567890\"}";
    post(p, "{}", 16, FWT_E_TOO_LARGE, 0, NULL);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_with_headers),
        cmocka_unit_test(test_answer_over_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
