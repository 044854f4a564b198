// main.c: entry point of the e2e app.
#include "config.h"
int greet(const char *who);
int main(void) { return greet(APP_NAME); }
