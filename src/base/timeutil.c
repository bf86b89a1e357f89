/* timeutil.c: clocks and the oneM2M timestamp format. */
#include "base/timeutil.h"

#include <stdio.h>
#include <time.h>

int64_t m2m_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t m2m_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void m2m_ts_format(int64_t t_us, char out[24])
{
    time_t s = (time_t)(t_us / 1000000);
    long us = (long)(t_us % 1000000);
    if (us < 0) {
        us += 1000000;
        s -= 1;
    }
    struct tm tm;
    gmtime_r(&s, &tm);
    unsigned y = (unsigned)(tm.tm_year + 1900) % 10000u, mo = (unsigned)tm.tm_mon % 12u + 1u,
             d = (unsigned)tm.tm_mday % 32u, h = (unsigned)tm.tm_hour % 24u,
             mi = (unsigned)tm.tm_min % 60u, se = (unsigned)tm.tm_sec % 61u;
    snprintf(out, 24, "%04u%02u%02uT%02u%02u%02u,%06u", y, mo, d, h, mi, se,
             (unsigned)us % 1000000u);
}

static bool digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool m2m_ts_parse(const char *s, size_t len, int64_t *t_us)
{
    int Y, M, D, h, mi, se;
    if (len < 15 || s[8] != 'T')
        return false;
    if (!digits(s, 4, &Y) || !digits(s + 4, 2, &M) || !digits(s + 6, 2, &D) ||
        !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &se))
        return false;
    size_t i = 15;
    long frac = 0;
    if (i < len && (s[i] == ',' || s[i] == '.')) {
        i++;
        int nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd == 6) /* TS-0004 6.3.3: one to six fractional digits */
                return false;
            frac = frac * 10 + (s[i++] - '0');
            nd++;
        }
        if (nd == 0)
            return false;
        while (nd++ < 6)
            frac *= 10;
    }
    if (i < len && s[i] == 'Z')
        i++;
    if (i != len)
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || se > 60)
        return false;
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap)
        return false;
    int64_t days = days_from_civil(Y, M, D);
    *t_us = ((days * 86400) + h * 3600 + mi * 60 + se) * 1000000LL + frac;
    return true;
}
