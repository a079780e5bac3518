/* atomic.h — the byte semantics of FDB's atomic mutations (spec §5). */
#ifndef FOUND_ATOMIC_H
#define FOUND_ATOMIC_H

#include <optional>
#include <string>

namespace found {

enum MutationCode : int {
    kOpAdd = 2,
    kOpBitAnd = 6,
    kOpBitOr = 7,
    kOpBitXor = 8,
    kOpAppendIfFits = 9,
    kOpMax = 12,
    kOpMin = 13,
    kOpSetVersionstampedKey = 14,
    kOpSetVersionstampedValue = 15,
    kOpByteMin = 16,
    kOpByteMax = 17,
    kOpMinV2 = 18,
    kOpAndV2 = 19,
    kOpCompareAndClear = 20,
};

/* True for the codes atomic_op accepts (versionstamp ops included). */
bool is_valid_mutation(int op);

/* Applies `op` with `param` to the existing value (nullopt = absent); returns the new
 * value, nullopt meaning "cleared". Not for the versionstamp ops. `api_version` selects
 * the pre-510 BIT_AND/MIN rule. */
std::optional<std::string> apply_atomic(int op, const std::optional<std::string>& existing,
                                        const std::string& param, int api_version);

}  // namespace found

#endif
