#include "cluster_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t cli_cluster_stop;

static void on_signal(int sig)
{
    (void)sig;
    cli_cluster_stop = 1;
}

void cli_cluster_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void cli_cluster_url(const char *arg, char *out)
{
    const char *u = arg ? arg : getenv("EM_AGGREGATOR");
    if (!u || !*u)
        u = "http://127.0.0.1:8080";
    size_t n = strlen(u);
    while (n && u[n - 1] == '/')
        n--;
    if (strstr(u, "://"))
        snprintf(out, 512, "%.*s", (int)n, u);
    else
        snprintf(out, 512, "http://%.*s", (int)n, u);
}
