/* crc32c.h — CRC-32C (Castagnoli), the checksum on every log and snapshot record. */
#ifndef FOUND_CRC32C_H
#define FOUND_CRC32C_H
#include <stddef.h>
#include <stdint.h>
namespace found {
/* Returns the CRC-32C of `data`, continuing from `crc` (0 to start). */
uint32_t crc32c(uint32_t crc, const void* data, size_t length);
}
#endif
