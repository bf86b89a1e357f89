/* timeutil.h: clocks and oneM2M timestamps (TS-0004 6.3.3: YYYYMMDDThhmmss[,ffffff], UTC). */
#ifndef M2M_BASE_TIMEUTIL_H
#define M2M_BASE_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall clock, microseconds since the epoch (UTC). */
int64_t m2m_now_us(void);
/* Monotonic clock, milliseconds. */
int64_t m2m_mono_ms(void);
/* Formats t (us since epoch) as "YYYYMMDDThhmmss,ffffff" into out (>= 23 bytes). */
void m2m_ts_format(int64_t t_us, char out[24]);
/* Parses a oneM2M timestamp of exactly len bytes (optional ",fraction" up to 6 digits, optional
 * trailing 'Z'). Returns false if malformed or out of range. */
bool m2m_ts_parse(const char *s, size_t len, int64_t *t_us);

#endif
