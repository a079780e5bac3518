/* atomic.cc — atomic mutation arithmetic: little-endian integers of the param's length,
 * the existing value cut or zero-padded to that length (spec §5). */
#include "atomic.h"

#include <string.h>

namespace found {

namespace {

const size_t kValueSizeLimit = 100000;

/* The existing value cut or right-padded with zeros to `n` bytes. */
std::string fit(const std::string& existing, size_t n) {
    std::string out = existing.substr(0, n);
    out.resize(n, '\0');
    return out;
}

/* Compares two equal-length little-endian unsigned integers: <0, 0, >0. */
int compare_le(const std::string& a, const std::string& b) {
    for (size_t i = a.size(); i-- > 0;) {
        unsigned char x = a[i], y = b[i];
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

}  // namespace

bool is_valid_mutation(int op) {
    switch (op) {
        case kOpAdd: case kOpBitAnd: case kOpBitOr: case kOpBitXor: case kOpAppendIfFits:
        case kOpMax: case kOpMin: case kOpSetVersionstampedKey: case kOpSetVersionstampedValue:
        case kOpByteMin: case kOpByteMax: case kOpMinV2: case kOpAndV2: case kOpCompareAndClear:
            return true;
        default:
            return false;
    }
}

std::optional<std::string> apply_atomic(int op, const std::optional<std::string>& existing,
                                        const std::string& param, int api_version) {
    const size_t n = param.size();
    const bool absent = !existing.has_value();
    const bool absent_or_empty = absent || existing->empty();
    switch (op) {
        case kOpAdd: {
            if (absent_or_empty) return param;
            if (n == 0) return std::string();
            std::string e = fit(*existing, n);
            unsigned carry = 0;
            for (size_t i = 0; i < n; i++) {
                unsigned sum = (unsigned char)e[i] + (unsigned char)param[i] + carry;
                e[i] = (char)(sum & 0xFF);
                carry = sum >> 8;
            }
            return e;
        }
        case kOpBitAnd:
        case kOpAndV2: {
            if (absent) {
                if (op == kOpBitAnd && api_version < 510) return std::string(n, '\0');
                return param;
            }
            if (n == 0) return std::string();
            std::string e = fit(*existing, n);
            for (size_t i = 0; i < n; i++) e[i] = (char)(e[i] & param[i]);
            return e;
        }
        case kOpBitOr:
        case kOpBitXor: {
            if (absent_or_empty) return param;
            if (n == 0) return std::string();
            std::string e = fit(*existing, n);
            for (size_t i = 0; i < n; i++)
                e[i] = (char)(op == kOpBitOr ? (e[i] | param[i]) : (e[i] ^ param[i]));
            return e;
        }
        case kOpAppendIfFits: {
            if (absent_or_empty) return param;
            if (n == 0) return existing;
            if (existing->size() + n > kValueSizeLimit) return existing;
            return *existing + param;
        }
        case kOpMax: {
            if (absent_or_empty) return param;
            if (n == 0) return std::string();
            std::string e = fit(*existing, n);
            return compare_le(e, param) >= 0 ? e : param;
        }
        case kOpMin:
        case kOpMinV2: {
            if (absent) {
                if (op == kOpMin && api_version < 510) return std::string(n, '\0');
                return param;
            }
            if (n == 0) return std::string();
            std::string e = fit(*existing, n);
            return compare_le(e, param) <= 0 ? e : param;
        }
        case kOpByteMin:
            if (absent) return param;
            return *existing < param ? *existing : param;
        case kOpByteMax:
            if (absent) return param;
            return *existing > param ? *existing : param;
        case kOpCompareAndClear:
            if (!absent && *existing == param) return std::nullopt;
            return existing;
        default:
            return existing;
    }
}

}  // namespace found
