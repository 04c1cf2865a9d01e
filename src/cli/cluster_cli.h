/* Helpers shared by the cluster subcommands (start-aggregator, start-node, inference, status, demo). */
#ifndef EM_CLUSTER_CLI_H
#define EM_CLUSTER_CLI_H

#include <signal.h>

/* Set by SIGINT/SIGTERM once cli_cluster_on_signals() was called. */
extern volatile sig_atomic_t cli_cluster_stop;
void cli_cluster_on_signals(void);
/* Aggregator base URL: --aggregator value, else $EM_AGGREGATOR, else http://127.0.0.1:8080. A bare
 * host:port gets "http://" prepended. out must hold 512 bytes. */
void cli_cluster_url(const char *arg, char *out);

#endif
