/* Fiat-Shamir transcript over SHA-256 (OpenSSL). Every absorb and squeeze is domain separated
 * by a label; the state is a 32-byte chaining value, so a transcript is a plain value type with
 * no heap allocation (copy it to fork). Field challenges are sampled by rejection, so they are
 * uniform (no modular bias). */
#ifndef ENCLAVEML_ZKML_TRANSCRIPT_H
#define ENCLAVEML_ZKML_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/zkml/ff.h"

typedef struct tr_t {
    uint8_t state[32];
    uint64_t n_ops; /* absorbs + squeezes so far, mixed into every step */
} tr_t;

/* Starts a transcript bound to a protocol domain string (e.g. "enclaveml/infer/v1"). */
void tr_init(tr_t *t, const char *domain);
void tr_absorb_bytes(tr_t *t, const char *label, const void *data, size_t len);
void tr_absorb_u64(tr_t *t, const char *label, uint64_t v);
void tr_absorb_ff(tr_t *t, const char *label, const ff_t *v, size_t n);
void tr_absorb_ff2(tr_t *t, const char *label, const ff2_t *v, size_t n);
void tr_challenge_bytes(tr_t *t, const char *label, uint8_t *out, size_t n);
ff_t tr_challenge_ff(tr_t *t, const char *label);
ff2_t tr_challenge_ff2(tr_t *t, const char *label);
/* n challenges in one call (each independently uniform). */
void tr_challenge_ff2_vec(tr_t *t, const char *label, ff2_t *out, size_t n);
/* Uniform integer in [0, bound), bound >= 1, by rejection sampling. */
uint64_t tr_challenge_index(tr_t *t, const char *label, uint64_t bound);

#endif
