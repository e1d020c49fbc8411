#ifndef CLIBPQ_SHIM_H
#define CLIBPQ_SHIM_H
#include <libpq-fe.h>

/* PG_DIAG_* are char-literal macros ('C'), which Swift does not import. */
static inline int clibpq_diag_sqlstate(void) { return 'C'; }
static inline int clibpq_diag_message_primary(void) { return 'M'; }
static inline int clibpq_diag_message_detail(void) { return 'D'; }
#endif
