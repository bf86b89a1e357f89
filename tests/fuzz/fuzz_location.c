/* fuzz_location.c: the location table parser on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "cse/location.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acp_host host = {"//m2msec.example.com", "/id-in"};
    struct location_table *t = NULL;
    char err[256];
    if (location_parse(data, size, &host, &t, err, sizeof err) == M2M_OK) {
        double lat, lon;
        char cc[3];
        (void)location_lookup(t, "//m2msec.example.com/id-in/Cae1", &lat, &lon, cc);
        location_free(t);
    }
    return 0;
}
