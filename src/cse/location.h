/* location.h: the originator-location source for accessControlLocationRegion (TS-0003 7.1.3,
 * Annex F; SPEC-MAP A8). [INTERP] This release takes locations from an operator-provisioned table
 * (network-side knowledge, never device-reported values, as Annex F requires): one line per
 * originator, "ORIGINATOR LATITUDE LONGITUDE [COUNTRY]". An originator without an entry has no
 * location, so a rule with a region never grants it (deny on doubt). */
#ifndef M2M_CSE_LOCATION_H
#define M2M_CSE_LOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acp/acp.h"
#include "base/rc.h"

struct location_table;

/* Parses the table (bounded: 100000 lines, 512 bytes a line); IDs are normalised to absolute
 * form with host. Malformed lines are an error naming the line. */
M2M_WARN_UNUSED m2m_rc location_parse(const uint8_t *in, size_t len, const struct acp_host *host,
                                      struct location_table **out, char *err, size_t errlen);
M2M_WARN_UNUSED m2m_rc location_load(const char *path, const struct acp_host *host,
                                     struct location_table **out, char *err, size_t errlen);
/* Fills lat/lon/country of an absolute originator; false when unknown. NULL table: false. */
bool location_lookup(const struct location_table *t, const char *orig_abs, double *lat, double *lon,
                     char country[3]);
void location_free(struct location_table *t);

#endif
