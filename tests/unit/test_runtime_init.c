/* The process's runtime: the implicit init on the first ust_* call runs
 * once and its error is kept; ust_init reports bad values with EINVAL;
 * ust_fini is safe at any time, twice. Every configuration here is bad, so
 * no TAP is ever opened (a unit test touches no interface). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/runtime.h"

/* stderr goes to a file so the messages can be counted. */
static FILE *err_file;
static int saved_stderr = -1;

static void capture_stderr(void)
{
	err_file = tmpfile();
	assert_non_null(err_file);
	fflush(stderr);
	saved_stderr = dup(2);
	assert_true(dup2(fileno(err_file), 2) >= 0);
}

static unsigned stderr_lines(char *last, size_t len)
{
	char line[512];
	unsigned n = 0;

	fflush(stderr);
	rewind(err_file);
	while (fgets(line, sizeof(line), err_file)) {
		n++;
		snprintf(last, len, "%s", line);
	}
	return n;
}

static void restore_stderr(void)
{
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fclose(err_file);
}

static void test_implicit_init_error_kept(void **state)
{
	char last[512] = "";

	(void)state;
	setenv("USTACK_IP", "10.77.0.300/24", 1);
	capture_stderr();
	errno = 0;
	assert_int_equal(ust_socket(AF_INET, SOCK_DGRAM, 0), -1);
	assert_int_equal(errno, EINVAL);
	/* Kept: the second call does not try (or print) again. */
	errno = 0;
	assert_int_equal(ust_socket(AF_INET, SOCK_DGRAM, 0), -1);
	assert_int_equal(errno, EINVAL);
	/* Argument errors still come first, as from the kernel. */
	errno = 0;
	assert_int_equal(ust_socket(AF_INET6, SOCK_DGRAM, 0), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
	assert_int_equal(stderr_lines(last, sizeof(last)), 1);
	restore_stderr();
	assert_string_equal(last, "ustack: USTACK_IP=\"10.77.0.300/24\": not an IPv4 address/prefix\n");
	unsetenv("USTACK_IP");
}

static void test_explicit_init_bad_field(void **state)
{
	struct ust_config c = { .mac = "01:02:03:04:05:06" };
	char last[512] = "";

	(void)state;
	capture_stderr();
	errno = 0;
	assert_int_equal(ust_init(&c), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(stderr_lines(last, sizeof(last)), 1);
	restore_stderr();
	assert_non_null(strstr(last, "ust_config.mac=\"01:02:03:04:05:06\""));
}

static void test_fini_twice_and_bad_fds(void **state)
{
	char b[4];

	(void)state;
	ust_fini();
	ust_fini();
	errno = 0;
	assert_int_equal(ust_close(RT_FD_BASE_DEFAULT), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(ust_recv(RT_FD_BASE_DEFAULT, b, sizeof(b), 0), -1);
	assert_int_equal(errno, EBADF);
}

static void test_fd_base(void **state)
{
	(void)state;
	assert_int_equal(rt_fd_base(), RT_FD_BASE_DEFAULT);
	assert_int_equal(rt_fd_set_base(-5), -EINVAL);
	assert_int_equal(rt_fd_set_base(2000000), 0);
	assert_true(rt_fd_is_ours(2000000));
	assert_false(rt_fd_is_ours(1999999));
	assert_int_equal(rt_fd_set_base(RT_FD_BASE_DEFAULT), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_implicit_init_error_kept),
		cmocka_unit_test(test_explicit_init_bad_field),
		cmocka_unit_test(test_fini_twice_and_bad_fds),
		cmocka_unit_test(test_fd_base),
	};

	/* Nothing from the caller's environment may reach a real TAP. */
	unsetenv("USTACK_TAP");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
