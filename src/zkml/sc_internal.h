/* Internal sumcheck helpers shared with specialised provers (lookup_gkr.c) so that they emit
 * exactly the transcript and round semantics of sc_prove / sc_verify. */
#ifndef EM_ZKML_SC_INTERNAL_H
#define EM_ZKML_SC_INTERNAL_H

#include "enclaveml/zkml/sumcheck.h"

/* The opening absorbs of sc_prove/sc_verify ("sc/shape", "sc/claim"). */
void sc__absorb_shape(tr_t *tr, const sc_shape *s, unsigned degree, ff2_t claim);
/* g(r) from g(0..d) (Lagrange over the nodes 0..d). */
ff2_t sc__interp(const ff2_t *g, unsigned d, ff2_t r);
/* g(0..d) from the wire values g(0), g(2..d) and the running claim. */
void sc__full_round(const ff2_t *wire, unsigned d, ff2_t claim, ff2_t *g);
/* sc_fold_prove using up to `threads` threads (sumcheck.c); the proof does not depend on the
 * thread count. */
em_status sc__fold_prove_mt(const ff_t *table, size_t len, unsigned n_vars, const ff2_t *const *points,
                            const ff2_t *values, size_t n_claims, unsigned threads, tr_t *tr, sc_proof *proof,
                            ff2_t *point, ff2_t *value, em_err *err) EM_WARN_UNUSED;

#endif
