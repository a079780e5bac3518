/* crc32c.cc — CRC-32C with the SSE4.2 instruction when the CPU has it, a table otherwise.
 * The hardware path matters: every committed byte is checksummed on the commit path. */
#include "crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace found {

namespace {

uint32_t g_table[256];

bool build_table() {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : (c >> 1);
        g_table[i] = c;
    }
    return true;
}

const bool g_table_ready = build_table();

uint32_t crc32c_table(uint32_t crc, const uint8_t* p, size_t n) {
    (void)g_table_ready;
    crc = ~crc;
    while (n--) crc = g_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32c_hw(uint32_t crc, const uint8_t* p, size_t n) {
    uint64_t c = ~crc & 0xFFFFFFFFu;
    while (n >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

const bool g_has_sse42 = __builtin_cpu_supports("sse4.2");
#endif

}  // namespace

uint32_t crc32c(uint32_t crc, const void* data, size_t length) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
#if defined(__x86_64__)
    if (g_has_sse42) return crc32c_hw(crc, p, length);
#endif
    return crc32c_table(crc, p, length);
}

}  // namespace found
