/*
 * The daemon's listening socket (srv_http_bind, src/server/http.c): connections it accepts
 * have TCP_NODELAY (a check-in's small writes are not held behind the peer's delayed ACK),
 * the port asked for 0 is reported, and a malformed address is refused by name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "server/srv.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int nodelay(int fd)
{
    int v = -1;
    socklen_t l = sizeof(v);
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
    return v != 0;
}

static void test_accepted_nodelay(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct evhttp *h = evhttp_new(base);
    assert_non_null(h);
    int port = 0, lfd = -1;
    assert_int_equal(srv_http_bind(h, "127.0.0.1:0", &port, &lfd), FWT_OK);
    assert_true(port > 0 && port < 65536);
    assert_true(lfd >= 0);

    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    /* accept here what the event loop would: the socket the daemon would serve */
    struct pollfd pf = {.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 5000), 1);
    int a = accept(lfd, NULL, NULL);
    assert_true(a >= 0);
    assert_true(nodelay(a));
    assert_false(nodelay(c)); /* a plain socket has Nagle on: the check above means something */
    close(a);
    close(c);
    evhttp_free(h);
    event_base_free(base);
}

static void test_bad_address(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    struct evhttp *h = evhttp_new(base);
    int port = -1;
    assert_int_equal(srv_http_bind(h, "127.0.0.1", &port, NULL), FWT_E_ARG);
    assert_non_null(strstr(fwt_detail(), "HOST:PORT"));
    assert_int_equal(srv_http_bind(h, "127.0.0.1:70000", &port, NULL), FWT_E_ARG);
    evhttp_free(h);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted_nodelay),
        cmocka_unit_test(test_bad_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
