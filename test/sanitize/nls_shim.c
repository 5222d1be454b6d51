/*
 * nls_shim.c
 *		Preloaded after the AddressSanitizer runtime when the test suite
 *		runs under ASan: Debian's postgres binary deadlocks in glibc's
 *		bindtextdomain() behind ASan's interceptor (a known ASan/glibc
 *		problem).  The tests run in the C locale and need no message
 *		catalogs, so binding text domains is made a no-op.
 */
#include <stddef.h>

char	   *bindtextdomain(const char *domainname, const char *dirname);
char	   *bind_textdomain_codeset(const char *domainname, const char *codeset);
char	   *textdomain(const char *domainname);

char *
bindtextdomain(const char *domainname, const char *dirname)
{
	(void) domainname;
	return (char *) dirname;
}

char *
bind_textdomain_codeset(const char *domainname, const char *codeset)
{
	(void) domainname;
	return (char *) codeset;
}

char *
textdomain(const char *domainname)
{
	return (char *) (domainname != NULL ? domainname : "messages");
}
