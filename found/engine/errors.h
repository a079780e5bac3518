/* errors.h — FDB error codes the engine produces, their texts and predicates. */
#ifndef FOUND_ERRORS_H
#define FOUND_ERRORS_H

namespace found {

enum Error : int {
    kSuccess = 0,
    kTransactionTooOld = 1007,
    kFutureVersion = 1009,
    kNotCommitted = 1020,
    kCommitUnknownResult = 1021,
    kTransactionCancelled = 1025,
    kTransactionTimedOut = 1031,
    kTooManyWatches = 1032,
    kWatchesDisabled = 1034,
    kAccessedUnreadable = 1036,
    kDatabaseLocked = 1038,
    kOperationCancelled = 1101,
    kFutureReleased = 1102,
    kIoError = 1510,
    kFileNotWritable = 1514,
    kNoClusterFileFound = 1515,
    kFileCorrupt = 1522,
    kClientInvalidOperation = 2000,
    kKeyOutsideLegalRange = 2004,
    kInvertedRange = 2005,
    kInvalidOptionValue = 2006,
    kInvalidOption = 2007,
    kNetworkNotSetup = 2008,
    kNetworkAlreadySetup = 2009,
    kReadVersionAlreadySet = 2010,
    kVersionInvalid = 2011,
    kRangeLimitsInvalid = 2012,
    kInvalidDatabaseName = 2013,
    kFutureNotSet = 2015,
    kUsedDuringCommit = 2017,
    kInvalidMutationType = 2018,
    kTransactionInvalidVersion = 2020,
    kNoCommitVersion = 2021,
    kNetworkCannotBeRestarted = 2025,
    kBlockedFromNetworkThread = 2026,
    kTransactionTooLarge = 2101,
    kKeyTooLarge = 2102,
    kValueTooLarge = 2103,
    kConnectionStringInvalid = 2104,
    kUnsupportedOperation = 2108,
    kTooManyTags = 2109,
    kTagTooLong = 2110,
    kSpecialKeysCrossModuleRead = 2112,
    kSpecialKeysNoModuleFound = 2113,
    kSpecialKeysWriteDisabled = 2114,
    kTenantsDisabled = 2136,
    kApiVersionUnset = 2200,
    kApiVersionAlreadySet = 2201,
    kApiVersionInvalid = 2202,
    kApiVersionNotSupported = 2203,
    kApiFunctionMissing = 2204,
    kExactModeWithoutLimits = 2210,
    kUnknownError = 4000,
    kInternalError = 4100,
};

/* Returns FDB's description of `code` (static storage). */
const char* error_text(int code);

/* fdb_error_predicate: 50000 retryable, 50001 maybe committed, 50002 retryable not committed. */
bool error_predicate(int predicate, int code);

/* Codes that on_error retries (with back-off); 1007/1009 retry after a short fixed wait. */
bool error_retried_by_on_error(int code);

}  // namespace found

#endif
