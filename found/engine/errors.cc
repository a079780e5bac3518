/* errors.cc — the error table: code → FDB's description, and the retry predicates.
 * The predicate sets follow fdb_error_predicate exactly, including FDB's own mismatch
 * (on_error retries 1079, the predicate omits it; the predicate has 1039). */
#include "errors.h"

namespace found {

namespace {

struct ErrorEntry {
    int code;
    const char* text;
};

const ErrorEntry kErrorTable[] = {
    {0, "Success"},
    {1000, "Operation failed"},
    {1004, "Operation timed out"},
    {1006, "Conflict occurred while changing coordination information"},
    {1007, "Transaction is too old to perform reads or be committed"},
    {1009, "Request for future version"},
    {1020, "Transaction not committed due to conflict with another transaction"},
    {1021, "Transaction may or may not have committed"},
    {1025, "Operation aborted because the transaction was cancelled"},
    {1031, "Operation aborted because the transaction timed out"},
    {1032, "Too many watches currently set"},
    {1034, "Watches cannot be set if read your writes is disabled"},
    {1036, "Read or wrote an unreadable key"},
    {1037, "Storage process does not have recent mutations"},
    {1038, "Database is locked"},
    {1039, "The protocol version of the cluster has changed"},
    {1042, "CommitProxy commit memory limit exceeded"},
    {1051, "Batch GRV request rate limit exceeded"},
    {1078, "GetReadVersion proxy memory limit exceeded"},
    {1079, "BlobGranule request failed"},
    {1101, "Asynchronous operation cancelled"},
    {1102, "Future has been released"},
    {1213, "Transaction tag is being throttled"},
    {1223, "Exceeded maximum proxy tag throttling duration"},
    {1500, "Platform error"},
    {1501, "Large block allocation failed"},
    {1510, "Disk i/o operation failed"},
    {1511, "File not found"},
    {1513, "Unable to bind to network"},
    {1514, "File could not be written"},
    {1515, "No cluster file found in current directory or default location"},
    {1516, "File too large to be read"},
    {1522, "A structurally corrupt data file was detected"},
    {2000, "Invalid API call"},
    {2002, "Key not in database"},
    {2003, "Future not an error"},
    {2004, "Key outside legal range"},
    {2005, "Range begin key larger than end key"},
    {2006, "Option set with an invalid value"},
    {2007, "Option not valid in this context"},
    {2008, "Action not possible before the network is configured"},
    {2009, "Network can be configured only once"},
    {2010, "Transaction already has a read version set"},
    {2011, "Version not valid"},
    {2012, "Range limits not valid"},
    {2013, "Database name must be 'DB'"},
    {2014, "Attribute not found in string"},
    {2015, "Future not ready"},
    {2016, "Attempted to set an unrecognized network option"},
    {2017, "Operation issued while a commit was outstanding"},
    {2018, "Unrecognized atomic mutation type"},
    {2020, "Transaction does not have a valid commit version"},
    {2021, "Transaction is read-only and therefore does not have a commit version"},
    {2022, "Environment variable network option could not be set"},
    {2023, "Attempted to set TLS options after the network was initialized"},
    {2024, "TLS option was not set"},
    {2025, "Network can only be started once"},
    {2026, "Detected a deadlock in a callback called from the network thread"},
    {2030, "The given key is not in the range of the given range"},
    {2039, "getMappedRange tries to read data that were previously written in the transaction"},
    {2043, "The mapper cannot be parsed as a tuple"},
    {2101, "Transaction exceeds byte limit"},
    {2102, "Key length exceeds limit"},
    {2103, "Value length exceeds limit"},
    {2104, "Connection string invalid"},
    {2108, "Operation is not supported"},
    {2109, "Too many tags set on transaction"},
    {2110, "Tag set on transaction is too long"},
    {2112, "Special key space range read crosses modules. Refer to the `special_key_space_relaxed' "
           "transaction option for more details."},
    {2113, "Special key space range read does not intersect a module. Refer to the "
           "`special_key_space_relaxed' transaction option for more details."},
    {2114, "Special Key space is not allowed to write by default. Refer to the "
           "`special_key_space_enable_writes` transaction option for more details."},
    {2115, "Special key space key or keyrange in set or clear does not intersect a module"},
    {2117, "Api call through special keys failed. For more information, call get on special key "
           "0xff0xff/error_message to get a json string of the error message."},
    {2136, "Tenants have been disabled in the cluster"},
    {2200, "API version is not set"},
    {2201, "API version may be set only once"},
    {2202, "API version not valid"},
    {2203, "API version not supported"},
    {2204, "Failed to load a required FDB API function."},
    {2210, "EXACT streaming mode requires limits, but none were given"},
    {2505, "Snapshot create binary path not whitelisted"},
    {2509, "The given uid string is not a 32-length hex string"},
    {4000, "An unknown error occurred"},
    {4100, "An internal error occurred"},
};

}  // namespace

const char* error_text(int code) {
    if (code < 0 || code > 30000) return "An unknown error occurred";
    for (const ErrorEntry& entry : kErrorTable)
        if (entry.code == code) return entry.text;
    return "UNKNOWN_ERROR";
}

static bool maybe_committed(int code) { return code == 1021 || code == 1039; }

static bool retryable_not_committed(int code) {
    switch (code) {
        case 1007: case 1009: case 1020: case 1037: case 1038: case 1042:
        case 1051: case 1078: case 1213: case 1223:
            return true;
        default:
            return false;
    }
}

bool error_predicate(int predicate, int code) {
    switch (predicate) {
        case 50000: return maybe_committed(code) || retryable_not_committed(code);
        case 50001: return maybe_committed(code);
        case 50002: return retryable_not_committed(code);
        default: return false;
    }
}

bool error_retried_by_on_error(int code) {
    switch (code) {
        case 1020: case 1021: case 1037: case 1038: case 1042: case 1051:
        case 1078: case 1079: case 1213: case 1223:
            return true;
        default:
            return false;
    }
}

}  // namespace found
