/* fdb_c_abi.h — the C types of FoundationDB's client ABI (API 730/800), as the
 * embedded engine exports them. Layouts must match libfdb_c exactly: bindings
 * (found's cffi core, the official ctypes binding) read these structs directly. */
#ifndef FOUND_FDB_C_ABI_H
#define FOUND_FDB_C_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FOUND_EXPORT __attribute__((visibility("default")))

typedef int fdb_error_t;
typedef int fdb_bool_t;

typedef struct FDBFuture FDBFuture;
typedef struct FDBDatabase FDBDatabase;
typedef struct FDBTransaction FDBTransaction;
typedef struct FDBTenant FDBTenant;
typedef struct FDBResult FDBResult;
typedef struct FDBCluster FDBCluster;

#pragma pack(push, 4)
typedef struct {
    const uint8_t* key;
    int key_length;
} FDBKey;

typedef struct {
    const uint8_t* key;
    int key_length;
    const uint8_t* value;
    int value_length;
} FDBKeyValue;

typedef struct {
    const uint8_t* begin_key;
    int begin_key_length;
    const uint8_t* end_key;
    int end_key_length;
} FDBKeyRange;
#pragma pack(pop)

typedef struct {
    FDBKey key;
    fdb_bool_t orEqual;
    int offset;
} FDBKeySelector;

typedef struct {
    FDBKeySelector begin;
    FDBKeySelector end;
    FDBKeyValue* data;
    int m_size;
    int m_capacity;
} FDBGetRangeReqAndResult;

typedef struct {
    FDBKey key;
    FDBKey value;
    FDBGetRangeReqAndResult getRange;
    unsigned char buffer[32];
} FDBMappedKeyValue;

typedef void (*FDBCallback)(FDBFuture* future, void* callback_parameter);

#ifdef __cplusplus
}
#endif

#endif
