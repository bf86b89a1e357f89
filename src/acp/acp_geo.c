/* acp_geo.c: accessControlLocationRegion: circular regions by great-circle distance and
 * ISO 3166-1 alpha-2 country codes (TS-0003 Annex F, SPEC-MAP A8). */
#include <math.h>

#include "acp/acp_internal.h"

static const double deg2rad = 3.14159265358979323846 / 180.0;

/* [INTERP] SPEC-MAP A2: lat within +-90, lon within +-180, radius finite and not negative. */
m2m_rc acp_circ_make(double lat, double lon, double radius_m, struct acp_circ *c)
{
    if (!isfinite(lat) || !isfinite(lon) || !isfinite(radius_m) || lat < -90 || lat > 90 ||
        lon < -180 || lon > 180 || radius_m < 0)
        return M2M_ERR_MALFORMED;
    c->lat_rad = lat * deg2rad;
    c->lon_rad = lon * deg2rad;
    c->cos_lat = cos(c->lat_rad);
    c->radius_m = radius_m;
    return M2M_OK;
}

/* The originator position in radians, computed on first use within one decision. */
static bool rq_geo(struct acp_rq *rq)
{
    if (!rq->geo_ready) {
        const struct acp_request *req = rq->req;
        rq->geo_ready = true;
        rq->geo_ok = req->has_location && isfinite(req->lat) && isfinite(req->lon) &&
                     fabs(req->lat) <= 90 && fabs(req->lon) <= 180;
        if (rq->geo_ok) {
            rq->lat_rad = req->lat * deg2rad;
            rq->lon_rad = req->lon * deg2rad;
            rq->cos_lat = cos(rq->lat_rad);
        }
    }
    return rq->geo_ok;
}

/* [INTERP] SPEC-MAP A8: haversine distance on the mean Earth radius, inside when <= radius.
 * rq_loc unavailable makes the test FALSE (TS-0003 7.1.4, indeterminate input). */
bool acp_circ_match(const struct acp_circ *c, struct acp_rq *rq)
{
    if (!rq_geo(rq))
        return false;
    double sdlat = sin((rq->lat_rad - c->lat_rad) / 2);
    double sdlon = sin((rq->lon_rad - c->lon_rad) / 2);
    double h = sdlat * sdlat + c->cos_lat * rq->cos_lat * sdlon * sdlon;
    if (h > 1)
        h = 1;
    double d = 2 * ACP_EARTH_RADIUS_M * asin(sqrt(h));
    return d <= c->radius_m;
}

uint16_t acp_country_code(const char *s, size_t len)
{
    if (s == NULL || len != 2)
        return 0;
    uint16_t v = 0;
    for (size_t i = 0; i < 2; i++) {
        char ch = s[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        if (ch < 'A' || ch > 'Z')
            return 0;
        v = (uint16_t)(v << 8 | (uint8_t)ch);
    }
    return v;
}
