// greet.c: the app's one feature.
#include <stdio.h>
int greet(const char *who) { return printf("hello from %s\n", who) < 0; }
