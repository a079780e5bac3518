/*
 * tuple_codec.c -- native codec for the FoundationDB tuple layer (module found._tuple_codec).
 *
 * found/tuple.py documents the byte format and is the reference implementation: this file
 * must produce the same bytes, the same values and the same TupleError (message and offset)
 * for every input. The choice that shapes it: packing writes into one growable buffer that
 * starts on the C stack, and unpacking collects elements in a stack array before building
 * the exact-size tuple, so a short tuple costs no allocation besides its result. Every read
 * is checked against the end of the input, and recursion (nested tuples) stops at the
 * MAX_NESTING that found/tuple.py passes to configure().
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Type codes (see the table in found/tuple.py)
 * ------------------------------------------------------------------------------------- */

#define NULL_CODE 0x00
#define BYTES_CODE 0x01
#define STRING_CODE 0x02
#define NESTED_CODE 0x05
#define NEGATIVE_BIG_INT_CODE 0x0B
#define INT_ZERO_CODE 0x14
#define POSITIVE_BIG_INT_CODE 0x1D
#define FLOAT_CODE 0x20
#define DOUBLE_CODE 0x21
#define FALSE_CODE 0x26
#define TRUE_CODE 0x27
#define UUID_CODE 0x30
#define VERSIONSTAMP_CODE 0x33

#define MAX_INT_BYTES 255
#define VERSIONSTAMP_LENGTH 12
#define TR_VERSION_LENGTH 10
#define MAX_NESTING_LIMIT 1024 /* what configure() accepts: bounds the C stack depth */

/* ---------------------------------------------------------------------------------------
 * Configuration: the Python classes the codec reads and builds, set once by found/tuple.py
 * ------------------------------------------------------------------------------------- */

static struct {
    PyObject *tuple_error;       /* found.errors.TupleError */
    PyObject *single_float;      /* found.tuple.SingleFloat */
    PyObject *versionstamp;      /* found.tuple.Versionstamp */
    PyObject *uuid;              /* uuid.UUID */
    PyObject *safe_uuid_unknown; /* uuid.SafeUUID.unknown */
    PyObject *c_float;           /* ctypes.c_float */
    PyObject *c_double;          /* ctypes.c_double */
    int max_nesting;
    int uuid_fast; /* build UUIDs without running UUID.__init__ (verified by configure) */
} config;

/* Interned attribute names and constants, created at module init. */
static PyObject *str_name, *str_value, *str_tr_version, *str_user_version, *str_int,
    *str_is_safe, *str_bit_length, *empty_tuple, *int_64;

/* ---------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------- */

/* Raise TupleError(message, offset); a negative offset means "no offset" (packing). */
static void
set_tuple_error(Py_ssize_t offset, const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    PyObject *message = PyUnicode_FromFormatV(format, arguments);
    va_end(arguments);
    if (message == NULL) {
        return;
    }
    PyObject *error;
    if (offset >= 0) {
        error = PyObject_CallFunction(config.tuple_error, "On", message, offset);
    } else {
        error = PyObject_CallFunctionObjArgs(config.tuple_error, message, NULL);
    }
    Py_DECREF(message);
    if (error != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(error), error);
        Py_DECREF(error);
    }
}

/* Raise TupleError("<prefix><type name of value>", offset). */
static void
set_type_error(Py_ssize_t offset, const char *prefix, PyObject *value)
{
    PyObject *name = PyObject_GetAttr((PyObject *)Py_TYPE(value), str_name);
    if (name != NULL) {
        set_tuple_error(offset, "%s%S", prefix, name);
        Py_DECREF(name);
    }
}

/* Raise the "truncated element" TupleError; returns NULL for the caller to return. */
static PyObject *
truncated(const char *kind, Py_ssize_t need, Py_ssize_t have, Py_ssize_t offset)
{
    set_tuple_error(offset, "truncated %s: needs %zd bytes, %zd left", kind, need, have);
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Output buffer: starts on the caller's stack, moves to the heap when it outgrows it
 * ------------------------------------------------------------------------------------- */

typedef struct {
    unsigned char *data;
    Py_ssize_t length;
    Py_ssize_t capacity;
    unsigned char inline_data[256];
} Buffer;

static void
buffer_init(Buffer *buffer)
{
    buffer->data = buffer->inline_data;
    buffer->length = 0;
    buffer->capacity = (Py_ssize_t)sizeof(buffer->inline_data);
}

static void
buffer_release(Buffer *buffer)
{
    if (buffer->data != buffer->inline_data) {
        PyMem_Free(buffer->data);
    }
}

/* Make room for `extra` more bytes. Returns 0, or -1 with MemoryError. */
static int
buffer_grow(Buffer *buffer, Py_ssize_t extra)
{
    if (extra < 0 || extra > PY_SSIZE_T_MAX - buffer->length) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t needed = buffer->length + extra;
    Py_ssize_t capacity = buffer->capacity;
    while (capacity < needed) {
        capacity = capacity > PY_SSIZE_T_MAX / 2 ? needed : capacity * 2;
    }
    unsigned char *data;
    if (buffer->data == buffer->inline_data) {
        data = PyMem_Malloc((size_t)capacity);
        if (data != NULL) {
            memcpy(data, buffer->inline_data, (size_t)buffer->length);
        }
    } else {
        data = PyMem_Realloc(buffer->data, (size_t)capacity);
    }
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

static inline int
buffer_reserve(Buffer *buffer, Py_ssize_t extra)
{
    return buffer->capacity - buffer->length >= extra ? 0 : buffer_grow(buffer, extra);
}

/* Append one byte. Returns 0, or -1 with MemoryError. */
static inline int
put_byte(Buffer *buffer, unsigned char byte)
{
    if (buffer_reserve(buffer, 1) < 0) {
        return -1;
    }
    buffer->data[buffer->length++] = byte;
    return 0;
}

/* Append `size` bytes. Returns 0, or -1 with MemoryError. */
static int
put_bytes(Buffer *buffer, const void *bytes, Py_ssize_t size)
{
    if (buffer_reserve(buffer, size) < 0) {
        return -1;
    }
    memcpy(buffer->data + buffer->length, bytes, (size_t)size);
    buffer->length += size;
    return 0;
}

/* Append the low `count` bytes of `value`, big-endian; room must be reserved. */
static inline void
put_big_endian(Buffer *buffer, uint64_t value, int count)
{
    for (int shift = 8 * (count - 1); shift >= 0; shift -= 8) {
        buffer->data[buffer->length++] = (unsigned char)(value >> shift);
    }
}

/* Append `code`, then `bytes` with every 0x00 written as 0x00 0xFF, then 0x00.
   Returns 0, or -1 with MemoryError. */
static int
put_escaped(Buffer *buffer, unsigned char code, const char *bytes, Py_ssize_t size)
{
    if (size > PY_SSIZE_T_MAX - 2) {
        PyErr_NoMemory();
        return -1;
    }
    /* Room for the code, the bytes and the terminator; each 0x00 found asks for one more. */
    if (buffer_reserve(buffer, size + 2) < 0) {
        return -1;
    }
    buffer->data[buffer->length++] = code;
    const char *cursor = bytes;
    const char *end = bytes + size;
    while (cursor < end) {
        const char *zero = memchr(cursor, 0, (size_t)(end - cursor));
        const char *stop = zero != NULL ? zero : end;
        memcpy(buffer->data + buffer->length, cursor, (size_t)(stop - cursor));
        buffer->length += stop - cursor;
        cursor = stop;
        if (zero != NULL) {
            /* The rest of the input (this 0x00 included) plus the 0xFF and the terminator. */
            if (buffer_reserve(buffer, (end - cursor) + 2) < 0) {
                return -1;
            }
            buffer->data[buffer->length++] = 0x00;
            buffer->data[buffer->length++] = 0xFF;
            cursor++;
        }
    }
    buffer->data[buffer->length++] = 0x00;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------------------- */

static int encode_value(Buffer *out, PyObject *value, int depth, Py_ssize_t *stamp_offset);

/* Number of bytes needed for a non-zero magnitude (1..8). */
static inline int
byte_count(uint64_t magnitude)
{
    int count = 1;
    while (count < 8 && (magnitude >> (8 * count)) != 0) {
        count++;
    }
    return count;
}

/* Append an integer whose magnitude is 1..2**64-2: codes 0x0c..0x13 and 0x15..0x1c. */
static int
put_small_int(Buffer *out, uint64_t magnitude, int negative)
{
    int count = byte_count(magnitude);
    if (buffer_reserve(out, 1 + count) < 0) {
        return -1;
    }
    if (negative) {
        out->data[out->length++] = (unsigned char)(INT_ZERO_CODE - count);
        put_big_endian(out, ~magnitude, count); /* ones' complement over `count` bytes */
    } else {
        out->data[out->length++] = (unsigned char)(INT_ZERO_CODE + count);
        put_big_endian(out, magnitude, count);
    }
    return 0;
}

/* Append an integer with magnitude >= 2**64-1 (codes 0x0b / 0x1d). `magnitude` is an exact
   int. Fails with TupleError when it needs more than 255 bytes. */
static int
put_big_int(Buffer *out, PyObject *magnitude, int negative)
{
    PyObject *bits_object = PyObject_CallMethodObjArgs(magnitude, str_bit_length, NULL);
    if (bits_object == NULL) {
        return -1;
    }
    Py_ssize_t bits = PyLong_AsSsize_t(bits_object);
    Py_DECREF(bits_object);
    if (bits < 0) {
        return -1;
    }
    Py_ssize_t length = bits / 8 + (bits % 8 != 0);
    if (length > MAX_INT_BYTES) {
        set_tuple_error(-1, "integer needs %zd bytes; the tuple layer's limit is %d", length,
                        MAX_INT_BYTES);
        return -1;
    }
    PyObject *raw = PyObject_CallMethod(magnitude, "to_bytes", "ns", length, "big");
    if (raw == NULL) {
        return -1;
    }
    if (!PyBytes_Check(raw) || PyBytes_GET_SIZE(raw) != length ||
        buffer_reserve(out, 2 + length) < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_SystemError, "int.to_bytes returned an unexpected value");
        }
        Py_DECREF(raw);
        return -1;
    }
    const unsigned char *source = (const unsigned char *)PyBytes_AS_STRING(raw);
    out->data[out->length++] = negative ? NEGATIVE_BIG_INT_CODE : POSITIVE_BIG_INT_CODE;
    out->data[out->length++] = (unsigned char)(negative ? length ^ 0xFF : length);
    for (Py_ssize_t i = 0; i < length; i++) {
        out->data[out->length++] = negative ? (unsigned char)~source[i] : source[i];
    }
    Py_DECREF(raw);
    return 0;
}

/* Append an exact int. Fails with TupleError when it needs more than 255 bytes. */
static int
encode_int(Buffer *out, PyObject *value)
{
    int overflow;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (number == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (overflow == 0) {
        if (number == 0) {
            return put_byte(out, INT_ZERO_CODE);
        }
        uint64_t magnitude = number > 0 ? (uint64_t)number : 0 - (uint64_t)number;
        return put_small_int(out, magnitude, number < 0);
    }
    /* Beyond int64: 8-byte codes up to magnitude 2**64-2, big-int codes from 2**64-1. */
    PyObject *magnitude_object;
    if (overflow > 0) {
        Py_INCREF(value);
        magnitude_object = value;
    } else {
        magnitude_object = PyNumber_Negative(value);
        if (magnitude_object == NULL) {
            return -1;
        }
    }
    unsigned long long magnitude = PyLong_AsUnsignedLongLong(magnitude_object);
    int result;
    if (magnitude != (unsigned long long)-1) {
        result = put_small_int(out, magnitude, overflow < 0);
    } else if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_OverflowError)) {
        result = -1;
    } else {
        PyErr_Clear();
        result = put_big_int(out, magnitude_object, overflow < 0);
    }
    Py_DECREF(magnitude_object);
    return result;
}

/* Append a 64-bit double: sign bit flipped for positives, all bits flipped for negatives. */
static int
put_double(Buffer *out, double number)
{
    uint64_t bits;
    memcpy(&bits, &number, sizeof bits);
    bits = (bits >> 63) ? ~bits : bits ^ ((uint64_t)1 << 63);
    if (buffer_reserve(out, 9) < 0) {
        return -1;
    }
    out->data[out->length++] = DOUBLE_CODE;
    put_big_endian(out, bits, 8);
    return 0;
}

/* Append the float32 `number` (the value of a SingleFloat or c_float).
   Fails with TupleError when the value is not a float or rounds beyond float32. */
static int
put_single(Buffer *out, PyObject *number_object)
{
    if (number_object == NULL) {
        return -1;
    }
    if (!PyFloat_Check(number_object)) {
        set_type_error(-1, "SingleFloat.value must be a float, got ", number_object);
        return -1;
    }
    double number = PyFloat_AS_DOUBLE(number_object);
    /* 0x1.ffffffp+127 is FLT_MAX plus half an ulp: from there on, rounding gives infinity. */
    if (isfinite(number) && fabs(number) >= 0x1.ffffffp+127) {
        set_tuple_error(-1, "SingleFloat value %R is out of the 32-bit range", number_object);
        return -1;
    }
    float single = (float)number;
    uint32_t bits;
    memcpy(&bits, &single, sizeof bits);
    bits = (bits >> 31) ? ~bits : bits ^ ((uint32_t)1 << 31);
    if (buffer_reserve(out, 5) < 0) {
        return -1;
    }
    out->data[out->length++] = FLOAT_CODE;
    put_big_endian(out, bits, 4);
    return 0;
}

/* Append a str as UTF-8. Fails with TupleError on lone surrogates. */
static int
encode_string(Buffer *out, PyObject *value)
{
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(value) < 0) {
        return -1;
    }
#endif
    if (PyUnicode_IS_ASCII(value)) {
        /* The string's own storage is already UTF-8: no copy, nothing cached. */
        Py_ssize_t size;
        const char *utf8 = PyUnicode_AsUTF8AndSize(value, &size);
        if (utf8 == NULL) {
            return -1;
        }
        return put_escaped(out, STRING_CODE, utf8, size);
    }
    PyObject *encoded = PyUnicode_AsUTF8String(value);
    if (encoded == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            PyErr_Clear();
            set_tuple_error(-1, "string is not encodable as UTF-8");
        }
        return -1;
    }
    int result = put_escaped(out, STRING_CODE, PyBytes_AS_STRING(encoded),
                             PyBytes_GET_SIZE(encoded));
    Py_DECREF(encoded);
    return result;
}

/* Append a uuid.UUID from its `int` attribute. Fails with TupleError if that is not an int
   in 0..2**128-1. */
static int
encode_uuid(Buffer *out, PyObject *value)
{
    PyObject *number = PyObject_GetAttr(value, str_int);
    if (number == NULL) {
        return -1;
    }
    int result = -1;
    uint64_t low = 0, high = 0;
    PyObject *high_object = NULL;
    if (PyLong_Check(number)) {
        low = PyLong_AsUnsignedLongLongMask(number);
        if (!(low == (uint64_t)-1 && PyErr_Occurred())) {
            high_object = PyNumber_Rshift(number, int_64);
        }
    }
    if (high_object != NULL) {
        /* Fails (OverflowError) for negatives and for 2**128 and beyond. */
        high = PyLong_AsUnsignedLongLong(high_object);
        if (!(high == (uint64_t)-1 && PyErr_Occurred())) {
            result = 0;
        }
    }
    Py_XDECREF(high_object);
    Py_DECREF(number);
    if (result < 0) {
        if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return -1;
        }
        PyErr_Clear();
        set_tuple_error(-1, "UUID.int must be an int in 0..2**128-1");
        return -1;
    }
    if (buffer_reserve(out, 17) < 0) {
        return -1;
    }
    out->data[out->length++] = UUID_CODE;
    put_big_endian(out, high, 8);
    put_big_endian(out, low, 8);
    return 0;
}

/* Append a Versionstamp. Returns 1 if it is incomplete, 0 if complete, -1 on error
   (TupleError if its fields are not a 10-byte tr_version or None, and a 0..65535 int). */
static int
encode_versionstamp(Buffer *out, PyObject *value)
{
    PyObject *tr_version = PyObject_GetAttr(value, str_tr_version);
    if (tr_version == NULL) {
        return -1;
    }
    PyObject *user_version = PyObject_GetAttr(value, str_user_version);
    if (user_version == NULL) {
        Py_DECREF(tr_version);
        return -1;
    }
    int result = -1;
    long user = -1;
    if (tr_version != Py_None &&
        !(PyBytes_CheckExact(tr_version) && PyBytes_GET_SIZE(tr_version) == TR_VERSION_LENGTH)) {
        set_tuple_error(-1, "Versionstamp.tr_version must be None or 10 bytes");
        goto done;
    }
    if (PyLong_CheckExact(user_version)) {
        user = PyLong_AsLong(user_version);
        if (user == -1 && PyErr_Occurred()) {
            PyErr_Clear();
        }
    }
    if (user < 0 || user > 0xFFFF) {
        set_tuple_error(-1, "Versionstamp.user_version must be an int in 0..65535");
        goto done;
    }
    if (buffer_reserve(out, 1 + VERSIONSTAMP_LENGTH) < 0) {
        goto done;
    }
    out->data[out->length++] = VERSIONSTAMP_CODE;
    if (tr_version == Py_None) {
        memset(out->data + out->length, 0xFF, TR_VERSION_LENGTH);
        result = 1;
    } else {
        memcpy(out->data + out->length, PyBytes_AS_STRING(tr_version), TR_VERSION_LENGTH);
        result = 0;
    }
    out->length += TR_VERSION_LENGTH;
    put_big_endian(out, (uint64_t)user, 2);
done:
    Py_DECREF(tr_version);
    Py_DECREF(user_version);
    return result;
}

/* Append the elements of tuple `items` found `depth` nested tuples deep. */
static int
encode_items(Buffer *out, PyObject *items, int depth, Py_ssize_t *stamp_offset)
{
    Py_ssize_t count = PyTuple_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (encode_value(out, PyTuple_GET_ITEM(items, i), depth, stamp_offset) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Append a nested tuple or list found at `depth`. Fails with TupleError beyond max_nesting. */
static int
encode_nested(Buffer *out, PyObject *value, int depth, Py_ssize_t *stamp_offset)
{
    if (depth >= config.max_nesting) {
        set_tuple_error(-1, "tuple nested deeper than %d levels", config.max_nesting);
        return -1;
    }
    /* A list is copied first so that code run while encoding cannot change it under us. */
    PyObject *items = PyTuple_Check(value) ? (Py_INCREF(value), value) : PySequence_Tuple(value);
    if (items == NULL) {
        return -1;
    }
    int result = -1;
    if (put_byte(out, NESTED_CODE) == 0 && encode_items(out, items, depth + 1, stamp_offset) == 0) {
        result = put_byte(out, 0x00);
    }
    Py_DECREF(items);
    return result;
}

/* Append values of types other than the exact built-ins: subclasses and wrapper classes. */
static int
encode_other(Buffer *out, PyObject *value, int depth, Py_ssize_t *stamp_offset)
{
    if (PyUnicode_Check(value)) {
        return encode_string(out, value);
    }
    if (PyBytes_Check(value)) {
        return put_escaped(out, BYTES_CODE, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
    }
    if (PyLong_Check(value)) {
        PyObject *plain = PyNumber_Index(value); /* the plain int, whatever the subclass */
        if (plain == NULL) {
            return -1;
        }
        int result = encode_int(out, plain);
        Py_DECREF(plain);
        return result;
    }
    if (PyFloat_Check(value)) {
        return put_double(out, PyFloat_AS_DOUBLE(value));
    }
    if (PyTuple_Check(value) || PyList_Check(value)) {
        return encode_nested(out, value, depth, stamp_offset);
    }
    PyObject *wrapped = NULL;
    int result;
    if (PyObject_TypeCheck(value, (PyTypeObject *)config.single_float) ||
        PyObject_TypeCheck(value, (PyTypeObject *)config.c_float)) {
        wrapped = PyObject_GetAttr(value, str_value);
        result = put_single(out, wrapped);
    } else if (PyObject_TypeCheck(value, (PyTypeObject *)config.uuid)) {
        result = encode_uuid(out, value);
    } else if (PyObject_TypeCheck(value, (PyTypeObject *)config.versionstamp)) {
        result = encode_versionstamp(out, value);
        if (result == 1) {
            if (*stamp_offset >= 0) {
                set_tuple_error(-1, "more than one incomplete Versionstamp");
                return -1;
            }
            *stamp_offset = out->length - VERSIONSTAMP_LENGTH;
            result = 0;
        }
    } else if (PyObject_TypeCheck(value, (PyTypeObject *)config.c_double)) {
        wrapped = PyObject_GetAttr(value, str_value);
        if (wrapped == NULL) {
            return -1;
        }
        if (!PyFloat_Check(wrapped)) {
            Py_DECREF(wrapped);
            set_type_error(-1, "cannot pack a value of type ", value);
            return -1;
        }
        result = put_double(out, PyFloat_AS_DOUBLE(wrapped));
    } else {
        set_type_error(-1, "cannot pack a value of type ", value);
        return -1;
    }
    Py_XDECREF(wrapped);
    return result;
}

/* Append one element found `depth` nested tuples deep (0 = top level). Records the offset of
   an incomplete Versionstamp's placeholder in *stamp_offset. Returns 0, or -1 with an error. */
static int
encode_value(Buffer *out, PyObject *value, int depth, Py_ssize_t *stamp_offset)
{
    PyTypeObject *type = Py_TYPE(value);
    if (value == Py_None) {
        if (depth > 0) {
            return put_bytes(out, "\x00\xff", 2);
        }
        return put_byte(out, NULL_CODE);
    }
    if (type == &PyUnicode_Type) {
        return encode_string(out, value);
    }
    if (type == &PyLong_Type) {
        return encode_int(out, value);
    }
    if (type == &PyBytes_Type) {
        return put_escaped(out, BYTES_CODE, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
    }
    if (type == &PyTuple_Type || type == &PyList_Type) {
        return encode_nested(out, value, depth, stamp_offset);
    }
    if (type == &PyFloat_Type) {
        return put_double(out, PyFloat_AS_DOUBLE(value));
    }
    if (type == &PyBool_Type) {
        return put_byte(out, value == Py_True ? TRUE_CODE : FALSE_CODE);
    }
    return encode_other(out, value, depth, stamp_offset);
}

/* Pack `items` after `prefix`. With `with_versionstamp`, require exactly one incomplete
   Versionstamp and append its 4-byte little-endian offset; otherwise refuse any. */
static PyObject *
pack_items(PyObject *items, PyObject *prefix, int with_versionstamp)
{
    if (!PyTuple_Check(items)) {
        set_type_error(-1, "expected a tuple of values, got ", items);
        return NULL;
    }
    if (prefix != NULL && !PyBytes_Check(prefix)) {
        set_type_error(-1, "prefix must be bytes, got ", prefix);
        return NULL;
    }
    Buffer out;
    buffer_init(&out);
    Py_ssize_t stamp_offset = -1;
    PyObject *result = NULL;
    if (prefix != NULL && put_bytes(&out, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix)) < 0) {
        goto done;
    }
    if (encode_items(&out, items, 0, &stamp_offset) < 0) {
        goto done;
    }
    if (with_versionstamp) {
        if (stamp_offset < 0) {
            set_tuple_error(-1,
                            "pack_with_versionstamp() needs an incomplete Versionstamp, found none");
            goto done;
        }
        if ((uint64_t)stamp_offset > 0xFFFFFFFFu) {
            set_tuple_error(-1,
                            "incomplete Versionstamp at offset %zd does not fit the 4-byte offset",
                            stamp_offset);
            goto done;
        }
        if (buffer_reserve(&out, 4) < 0) {
            goto done;
        }
        for (int i = 0; i < 4; i++) {
            out.data[out.length++] = (unsigned char)((uint64_t)stamp_offset >> (8 * i));
        }
    } else if (stamp_offset >= 0) {
        set_tuple_error(-1, "incomplete Versionstamp in pack(); use pack_with_versionstamp()");
        goto done;
    }
    result = PyBytes_FromStringAndSize((const char *)out.data, out.length);
done:
    buffer_release(&out);
    return result;
}

/* ---------------------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *data;
    Py_ssize_t end; /* length of data */
} Input;

/* Find the 0x00 that ends a bytes/string payload starting at `start`, skipping escaped
   0x00 0xFF pairs (counted in *escapes). Returns its index, or -1 if there is none. */
static Py_ssize_t
find_terminator(const Input *in, Py_ssize_t start, Py_ssize_t *escapes)
{
    *escapes = 0;
    Py_ssize_t cursor = start;
    for (;;) {
        const unsigned char *zero = memchr(in->data + cursor, 0, (size_t)(in->end - cursor));
        if (zero == NULL) {
            return -1;
        }
        Py_ssize_t at = zero - in->data;
        if (at + 1 < in->end && in->data[at + 1] == 0xFF) {
            (*escapes)++;
            cursor = at + 2;
            continue;
        }
        return at;
    }
}

/* Copy a payload of `size` bytes, replacing each 0x00 0xFF pair by 0x00 (every 0x00 in it
   is followed by 0xFF, as find_terminator guarantees). */
static void
unescape(const unsigned char *source, Py_ssize_t size, char *target)
{
    const unsigned char *end = source + size;
    while (source < end) {
        const unsigned char *zero = memchr(source, 0, (size_t)(end - source));
        const unsigned char *stop = zero != NULL ? zero + 1 : end;
        memcpy(target, source, (size_t)(stop - source));
        target += stop - source;
        source = zero != NULL ? zero + 2 : end;
    }
}

/* Decode a bytes (0x01) or string (0x02) element at *pos. */
static PyObject *
decode_bytes_or_string(const Input *in, Py_ssize_t *pos, int is_string)
{
    Py_ssize_t code_at = *pos;
    Py_ssize_t start = code_at + 1;
    Py_ssize_t escapes;
    Py_ssize_t stop = find_terminator(in, start, &escapes);
    if (stop < 0) {
        set_tuple_error(code_at, is_string ? "unterminated string" : "unterminated bytes");
        return NULL;
    }
    const char *payload = (const char *)in->data + start;
    Py_ssize_t size = stop - start;
    PyObject *value;
    if (escapes == 0) {
        value = is_string ? PyUnicode_DecodeUTF8(payload, size, NULL)
                          : PyBytes_FromStringAndSize(payload, size);
    } else if (!is_string) {
        value = PyBytes_FromStringAndSize(NULL, size - escapes);
        if (value != NULL) {
            unescape(in->data + start, size, PyBytes_AS_STRING(value));
        }
    } else {
        char *plain = PyMem_Malloc((size_t)(size - escapes));
        if (plain == NULL) {
            return PyErr_NoMemory();
        }
        unescape(in->data + start, size, plain);
        value = PyUnicode_DecodeUTF8(plain, size - escapes, NULL);
        PyMem_Free(plain);
    }
    if (value == NULL) {
        if (is_string && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            set_tuple_error(code_at, "string is not valid UTF-8");
        }
        return NULL;
    }
    *pos = stop + 1;
    return value;
}

/* Read `count` (<= 8) bytes big-endian. */
static inline uint64_t
read_big_endian(const unsigned char *bytes, int count)
{
    uint64_t value = 0;
    for (int i = 0; i < count; i++) {
        value = (value << 8) | bytes[i];
    }
    return value;
}

/* Decode codes 0x0c..0x1c: an integer of 0..8 bytes. */
static PyObject *
decode_small_int(const Input *in, Py_ssize_t *pos)
{
    Py_ssize_t code_at = *pos;
    int code = in->data[code_at];
    int count = code >= INT_ZERO_CODE ? code - INT_ZERO_CODE : INT_ZERO_CODE - code;
    Py_ssize_t have = in->end - code_at - 1;
    if (have < count) {
        return truncated("integer", count, have, code_at);
    }
    uint64_t raw = read_big_endian(in->data + code_at + 1, count);
    *pos = code_at + 1 + count;
    if (code >= INT_ZERO_CODE) {
        return PyLong_FromUnsignedLongLong(raw);
    }
    /* value = raw - (2**(8*count) - 1) = -(ones' complement of raw over `count` bytes) */
    uint64_t mask = count == 8 ? UINT64_MAX : (((uint64_t)1 << (8 * count)) - 1);
    uint64_t magnitude = mask - raw;
    if (magnitude <= (uint64_t)INT64_MAX) {
        return PyLong_FromLongLong(-(long long)magnitude);
    }
    PyObject *positive = PyLong_FromUnsignedLongLong(magnitude);
    if (positive == NULL) {
        return NULL;
    }
    PyObject *value = PyNumber_Negative(positive);
    Py_DECREF(positive);
    return value;
}

/* Decode codes 0x0b / 0x1d: a length byte, then up to 255 bytes of magnitude. */
static PyObject *
decode_big_int(const Input *in, Py_ssize_t *pos)
{
    Py_ssize_t code_at = *pos;
    int negative = in->data[code_at] == NEGATIVE_BIG_INT_CODE;
    Py_ssize_t have = in->end - code_at - 1;
    if (have < 1) {
        return truncated("integer", 1, have, code_at);
    }
    Py_ssize_t length = negative ? in->data[code_at + 1] ^ 0xFF : in->data[code_at + 1];
    if (have < 1 + length) {
        return truncated("integer", 1 + length, have, code_at);
    }
    const unsigned char *raw = in->data + code_at + 2;
    unsigned char complement[MAX_INT_BYTES];
    if (negative) {
        /* value = raw - (2**(8*length) - 1) = -(ones' complement of raw) */
        for (Py_ssize_t i = 0; i < length; i++) {
            complement[i] = (unsigned char)~raw[i];
        }
        raw = complement;
    }
    PyObject *magnitude = PyObject_CallMethod((PyObject *)&PyLong_Type, "from_bytes", "y#s",
                                              (const char *)raw, length, "big");
    if (magnitude == NULL) {
        return NULL;
    }
    *pos = code_at + 2 + length;
    if (!negative) {
        return magnitude;
    }
    PyObject *value = PyNumber_Negative(magnitude);
    Py_DECREF(magnitude);
    return value;
}

/* Decode 0x20: a 32-bit float, returned as a SingleFloat. */
static PyObject *
decode_single(const Input *in, Py_ssize_t *pos)
{
    Py_ssize_t code_at = *pos;
    Py_ssize_t have = in->end - code_at - 1;
    if (have < 4) {
        return truncated("float", 4, have, code_at);
    }
    uint32_t bits = (uint32_t)read_big_endian(in->data + code_at + 1, 4);
    bits = (bits >> 31) ? bits ^ ((uint32_t)1 << 31) : ~bits;
    float single;
    memcpy(&single, &bits, sizeof single);
    PyObject *number = PyFloat_FromDouble((double)single);
    if (number == NULL) {
        return NULL;
    }
    PyObject *value = PyObject_CallOneArg(config.single_float, number);
    Py_DECREF(number);
    if (value != NULL) {
        *pos = code_at + 5;
    }
    return value;
}

/* Decode 0x21: a 64-bit double. */
static PyObject *
decode_double(const Input *in, Py_ssize_t *pos)
{
    Py_ssize_t code_at = *pos;
    Py_ssize_t have = in->end - code_at - 1;
    if (have < 8) {
        return truncated("double", 8, have, code_at);
    }
    uint64_t bits = read_big_endian(in->data + code_at + 1, 8);
    bits = (bits >> 63) ? bits ^ ((uint64_t)1 << 63) : ~bits;
    double number;
    memcpy(&number, &bits, sizeof number);
    *pos = code_at + 9;
    return PyFloat_FromDouble(number);
}

/* Build a uuid.UUID from 16 big-endian bytes. */
static PyObject *
make_uuid(const unsigned char *bytes)
{
    PyObject *high = PyLong_FromUnsignedLongLong(read_big_endian(bytes, 8));
    PyObject *low = PyLong_FromUnsignedLongLong(read_big_endian(bytes + 8, 8));
    PyObject *shifted = high != NULL ? PyNumber_Lshift(high, int_64) : NULL;
    PyObject *number = shifted != NULL && low != NULL ? PyNumber_Or(shifted, low) : NULL;
    Py_XDECREF(high);
    Py_XDECREF(low);
    Py_XDECREF(shifted);
    if (number == NULL) {
        return NULL;
    }
    PyObject *value;
    if (config.uuid_fast) {
        /* What UUID.__init__ ends with, minus its argument checks: set the two slots. */
        PyTypeObject *type = (PyTypeObject *)config.uuid;
        value = type->tp_new(type, empty_tuple, NULL);
        if (value != NULL && (PyObject_GenericSetAttr(value, str_int, number) < 0 ||
                              PyObject_GenericSetAttr(value, str_is_safe,
                                                      config.safe_uuid_unknown) < 0)) {
            Py_CLEAR(value);
        }
    } else {
        /* UUID(hex=None, bytes=None, bytes_le=None, fields=None, int=number) */
        value = PyObject_CallFunctionObjArgs(config.uuid, Py_None, Py_None, Py_None, Py_None,
                                             number, NULL);
    }
    Py_DECREF(number);
    return value;
}

/* Decode 0x30: a 16-byte UUID. */
static PyObject *
decode_uuid(const Input *in, Py_ssize_t *pos)
{
    Py_ssize_t code_at = *pos;
    Py_ssize_t have = in->end - code_at - 1;
    if (have < 16) {
        return truncated("UUID", 16, have, code_at);
    }
    PyObject *value = make_uuid(in->data + code_at + 1);
    if (value != NULL) {
        *pos = code_at + 17;
    }
    return value;
}

/* Decode 0x33: a 12-byte Versionstamp; ten 0xFF bytes mean incomplete. */
static PyObject *
decode_versionstamp(const Input *in, Py_ssize_t *pos)
{
    Py_ssize_t code_at = *pos;
    Py_ssize_t have = in->end - code_at - 1;
    if (have < VERSIONSTAMP_LENGTH) {
        return truncated("Versionstamp", VERSIONSTAMP_LENGTH, have, code_at);
    }
    const unsigned char *raw = in->data + code_at + 1;
    int incomplete = 1;
    for (int i = 0; i < TR_VERSION_LENGTH; i++) {
        incomplete &= raw[i] == 0xFF;
    }
    PyObject *tr_version;
    if (incomplete) {
        Py_INCREF(Py_None);
        tr_version = Py_None;
    } else {
        tr_version = PyBytes_FromStringAndSize((const char *)raw, TR_VERSION_LENGTH);
        if (tr_version == NULL) {
            return NULL;
        }
    }
    long user_version = (long)read_big_endian(raw + TR_VERSION_LENGTH, 2);
    PyObject *value = PyObject_CallFunction(config.versionstamp, "Ol", tr_version, user_version);
    Py_DECREF(tr_version);
    if (value != NULL) {
        *pos = code_at + 1 + VERSIONSTAMP_LENGTH;
    }
    return value;
}

/* Decode the element at *pos (any code but 0x05, and 0x00 only at the top level) and move
   *pos past it. Returns a new reference, or NULL with TupleError. */
static PyObject *
decode_value(const Input *in, Py_ssize_t *pos)
{
    unsigned char code = in->data[*pos];
    switch (code) {
    case NULL_CODE:
        *pos += 1;
        Py_RETURN_NONE;
    case BYTES_CODE:
        return decode_bytes_or_string(in, pos, 0);
    case STRING_CODE:
        return decode_bytes_or_string(in, pos, 1);
    case NEGATIVE_BIG_INT_CODE:
    case POSITIVE_BIG_INT_CODE:
        return decode_big_int(in, pos);
    case INT_ZERO_CODE:
        *pos += 1;
        return PyLong_FromLong(0);
    case FLOAT_CODE:
        return decode_single(in, pos);
    case DOUBLE_CODE:
        return decode_double(in, pos);
    case FALSE_CODE:
        *pos += 1;
        Py_RETURN_FALSE;
    case TRUE_CODE:
        *pos += 1;
        Py_RETURN_TRUE;
    case UUID_CODE:
        return decode_uuid(in, pos);
    case VERSIONSTAMP_CODE:
        return decode_versionstamp(in, pos);
    default:
        if (code > NEGATIVE_BIG_INT_CODE && code < POSITIVE_BIG_INT_CODE) {
            return decode_small_int(in, pos);
        }
        set_tuple_error(*pos, "unknown type code 0x%s%x", code < 0x10 ? "0" : "", code);
        return NULL;
    }
}

/* Decode elements from *pos to the end of the input (depth 0) or to the terminator of the
   nested tuple whose 0x05 code is at `opened_at` (depth > 0); leaves *pos after it.
   Returns a new tuple, or NULL with TupleError. */
static PyObject *
decode_items(const Input *in, Py_ssize_t *pos, int depth, Py_ssize_t opened_at)
{
    PyObject *inline_items[8];
    PyObject **items = inline_items;
    Py_ssize_t count = 0;
    Py_ssize_t capacity = (Py_ssize_t)(sizeof inline_items / sizeof inline_items[0]);
    Py_ssize_t cursor = *pos;
    PyObject *result = NULL;
    for (;;) {
        if (cursor >= in->end) {
            if (depth > 0) {
                set_tuple_error(opened_at, "nested tuple is not terminated");
                goto done;
            }
            break;
        }
        PyObject *value;
        unsigned char code = in->data[cursor];
        if (code == NULL_CODE && depth > 0) {
            if (cursor + 1 < in->end && in->data[cursor + 1] == 0xFF) {
                Py_INCREF(Py_None);
                value = Py_None;
                cursor += 2;
            } else {
                cursor += 1; /* the end of this nested tuple */
                break;
            }
        } else if (code == NESTED_CODE) {
            if (depth >= config.max_nesting) {
                set_tuple_error(cursor, "tuple nested deeper than %d levels", config.max_nesting);
                goto done;
            }
            Py_ssize_t nested_at = cursor;
            cursor += 1;
            value = decode_items(in, &cursor, depth + 1, nested_at);
        } else {
            value = decode_value(in, &cursor);
        }
        if (value == NULL) {
            goto done;
        }
        if (count == capacity) {
            Py_ssize_t grown = capacity * 2;
            PyObject **moved;
            if (items == inline_items) {
                moved = PyMem_Malloc((size_t)grown * sizeof *moved);
                if (moved != NULL) {
                    memcpy(moved, inline_items, sizeof inline_items);
                }
            } else {
                moved = PyMem_Realloc(items, (size_t)grown * sizeof *moved);
            }
            if (moved == NULL) {
                Py_DECREF(value);
                PyErr_NoMemory();
                goto done;
            }
            items = moved;
            capacity = grown;
        }
        items[count++] = value;
    }
    result = PyTuple_New(count);
    if (result == NULL) {
        goto done;
    }
    int atomic = 1;
    for (Py_ssize_t i = 0; i < count; i++) {
        atomic &= !PyObject_GC_IsTracked(items[i]);
        PyTuple_SET_ITEM(result, i, items[i]); /* steals the reference */
    }
    if (atomic) {
        /* What the garbage collector does to such a tuple on its first pass, done now: a
           range read decodes thousands of keys, and tracked tuples make it walk them. */
        PyObject_GC_UnTrack(result);
    }
    count = 0;
    *pos = cursor;
done:
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_DECREF(items[i]);
    }
    if (items != inline_items) {
        PyMem_Free(items);
    }
    return result;
}

/* ---------------------------------------------------------------------------------------
 * Module functions
 * ------------------------------------------------------------------------------------- */

/* Bind fast-call arguments to the parameters `names` (the first required, the second
   optional). Returns 0, or -1 with TypeError. */
static int
bind_arguments(const char *function, const char *const names[2], PyObject *const *args,
               Py_ssize_t nargs, PyObject *kwnames, PyObject *bound[2])
{
    bound[0] = bound[1] = NULL;
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 2 arguments (%zd given)", function,
                     nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        bound[i] = args[i];
    }
    Py_ssize_t keywords = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < keywords; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int slot = -1;
        for (int j = 0; j < 2; j++) {
            if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, names[j]) == 0) {
                slot = j;
            }
        }
        if (slot < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'",
                         function, name);
            return -1;
        }
        if (bound[slot] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", function,
                         names[slot]);
            return -1;
        }
        bound[slot] = args[nargs + k];
    }
    if (bound[0] == NULL) {
        PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", function, names[0]);
        return -1;
    }
    return 0;
}

static int
check_configured(void)
{
    if (config.tuple_error == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "found._tuple_codec is not configured: import found.tuple instead");
        return -1;
    }
    return 0;
}

static const char *const pack_parameters[2] = {"items", "prefix"};
static const char *const unpack_parameters[2] = {"data", "prefix_len"};

PyDoc_STRVAR(pack_doc,
             "pack($module, /, items, prefix=b'')\n--\n\n"
             "Encode the tuple `items` as a key, after `prefix`; sorts like the tuples.\n\n"
             "Raises TupleError on an unsupported element, an integer over 255 bytes, nesting\n"
             "deeper than MAX_NESTING or an incomplete Versionstamp.");

static PyObject *
codec_pack(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[2];
    if (check_configured() < 0 ||
        bind_arguments("pack", pack_parameters, args, nargs, kwnames, bound) < 0) {
        return NULL;
    }
    return pack_items(bound[0], bound[1], 0);
}

PyDoc_STRVAR(pack_with_versionstamp_doc,
             "pack_with_versionstamp($module, /, items, prefix=b'')\n--\n\n"
             "Encode `items` after `prefix` and append the placeholder's 4-byte LE offset.\n\n"
             "Raises TupleError unless `items` holds exactly one incomplete Versionstamp.");

static PyObject *
codec_pack_with_versionstamp(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    PyObject *bound[2];
    if (check_configured() < 0 || bind_arguments("pack_with_versionstamp", pack_parameters, args,
                                                 nargs, kwnames, bound) < 0) {
        return NULL;
    }
    return pack_items(bound[0], bound[1], 1);
}

PyDoc_STRVAR(unpack_doc,
             "unpack($module, /, data, prefix_len=0)\n--\n\n"
             "Decode a packed tuple, skipping the first `prefix_len` bytes.\n\n"
             "Raises TupleError (with the offset of the bad element) on malformed input.");

static PyObject *
codec_unpack(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *bound[2];
    if (check_configured() < 0 ||
        bind_arguments("unpack", unpack_parameters, args, nargs, kwnames, bound) < 0) {
        return NULL;
    }
    PyObject *data = bound[0];
    if (PyBytes_Check(data)) {
        Py_INCREF(data);
    } else if (PyByteArray_Check(data) || PyMemoryView_Check(data)) {
        data = PyBytes_FromObject(data); /* a private copy nobody can change while we read */
        if (data == NULL) {
            return NULL;
        }
    } else {
        set_type_error(-1, "expected bytes to unpack, got ", data);
        return NULL;
    }
    Input in = {(const unsigned char *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data)};
    PyObject *result = NULL;
    Py_ssize_t start = 0;
    PyObject *prefix_len = bound[1];
    if (prefix_len != NULL) {
        if (!PyLong_CheckExact(prefix_len)) {
            set_type_error(-1, "prefix_len must be an int, got ", prefix_len);
            goto done;
        }
        int overflow;
        long long value = PyLong_AsLongLongAndOverflow(prefix_len, &overflow);
        if (value == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (overflow != 0 || value < 0 || value > in.end) {
            set_tuple_error(-1, "prefix_len %S is outside 0..%zd", prefix_len, in.end);
            goto done;
        }
        start = (Py_ssize_t)value;
    }
    result = decode_items(&in, &start, 0, -1);
done:
    Py_DECREF(data);
    return result;
}

PyDoc_STRVAR(unpack_keys_doc,
             "unpack_keys($module, rows, prefix_len, /)\n--\n\n"
             "Decode the key of every (key, value) row of the list `rows`, each after its\n"
             "first `prefix_len` bytes: unpack(key, prefix_len) for each, in one call.\n\n"
             "Raises TupleError, with the offset in the key, on a malformed key.");

/* One call for a whole range read's keys: a layer decoding thousands of keys under one
   prefix pays the argument binding and the Python loop once instead of once per key. */
static PyObject *
codec_unpack_keys(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_configured() < 0) {
        return NULL;
    }
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "unpack_keys() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *rows = args[0];
    if (!PyList_Check(rows)) {
        set_type_error(-1, "unpack_keys() expects a list of (key, value) rows, got ", rows);
        return NULL;
    }
    if (!PyLong_CheckExact(args[1])) {
        set_type_error(-1, "prefix_len must be an int, got ", args[1]);
        return NULL;
    }
    Py_ssize_t prefix_len = PyLong_AsSsize_t(args[1]);
    if (prefix_len == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(rows);
    PyObject *result = PyList_New(count);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        PyObject *key = PyTuple_Check(row) && PyTuple_GET_SIZE(row) >= 1 ? PyTuple_GET_ITEM(row, 0)
                                                                           : NULL;
        if (key == NULL || !PyBytes_Check(key)) {
            set_type_error(-1, "unpack_keys() expects (key, value) rows with bytes keys, got ",
                           row);
            Py_DECREF(result);
            return NULL;
        }
        Input in = {(const unsigned char *)PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)};
        if (prefix_len < 0 || prefix_len > in.end) {
            set_tuple_error(-1, "prefix_len %zd is outside 0..%zd (row %zd)", prefix_len, in.end,
                            i);
            Py_DECREF(result);
            return NULL;
        }
        Py_ssize_t start = prefix_len;
        PyObject *items = decode_items(&in, &start, 0, -1);
        if (items == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, i, items);
    }
    return result;
}

/* Check that building a UUID by setting its slots gives what UUID(int=...) gives. */
static int
uuid_fast_path_works(void)
{
    static const unsigned char sample[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                             0x0f, 0xed, 0xcb, 0xa9, 0x87, 0x65, 0x43, 0x21};
    config.uuid_fast = 0;
    PyObject *slow = make_uuid(sample);
    config.uuid_fast = 1;
    PyObject *fast = make_uuid(sample);
    config.uuid_fast = 0;
    int works = 0;
    if (slow != NULL && fast != NULL && Py_TYPE(slow) == Py_TYPE(fast) &&
        PyObject_RichCompareBool(slow, fast, Py_EQ) == 1) {
        PyObject *slow_safe = PyObject_GetAttr(slow, str_is_safe);
        PyObject *fast_safe = PyObject_GetAttr(fast, str_is_safe);
        Py_hash_t slow_hash = PyObject_Hash(slow);
        Py_hash_t fast_hash = PyObject_Hash(fast);
        works = slow_safe != NULL && slow_safe == fast_safe && slow_hash != -1 &&
                slow_hash == fast_hash;
        Py_XDECREF(slow_safe);
        Py_XDECREF(fast_safe);
    }
    Py_XDECREF(slow);
    Py_XDECREF(fast);
    PyErr_Clear();
    return works;
}

PyDoc_STRVAR(configure_doc,
             "configure($module, tuple_error, single_float, versionstamp, uuid, safe_uuid_unknown,"
             " c_float, c_double, max_nesting, /)\n--\n\n"
             "Give the codec the classes it reads and builds; called once by found.tuple.");

static PyObject *
codec_configure(PyObject *module, PyObject *args)
{
    PyObject *tuple_error, *single_float, *versionstamp, *uuid, *safe_uuid_unknown, *c_float,
        *c_double;
    int max_nesting;
    if (!PyArg_ParseTuple(args, "OOOOOOOi:configure", &tuple_error, &single_float, &versionstamp,
                          &uuid, &safe_uuid_unknown, &c_float, &c_double, &max_nesting)) {
        return NULL;
    }
    PyObject *classes[] = {tuple_error, single_float, versionstamp, uuid, c_float, c_double};
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        if (!PyType_Check(classes[i])) {
            PyErr_Format(PyExc_TypeError, "configure() expects classes, got %R", classes[i]);
            return NULL;
        }
    }
    if (!PyType_IsSubtype((PyTypeObject *)tuple_error, (PyTypeObject *)PyExc_Exception)) {
        PyErr_SetString(PyExc_TypeError, "configure(): tuple_error must be an exception class");
        return NULL;
    }
    if (max_nesting < 1 || max_nesting > MAX_NESTING_LIMIT) {
        PyErr_Format(PyExc_ValueError, "configure(): max_nesting %d is outside 1..%d",
                     max_nesting, MAX_NESTING_LIMIT);
        return NULL;
    }
    Py_INCREF(tuple_error);
    Py_XSETREF(config.tuple_error, tuple_error);
    Py_INCREF(single_float);
    Py_XSETREF(config.single_float, single_float);
    Py_INCREF(versionstamp);
    Py_XSETREF(config.versionstamp, versionstamp);
    Py_INCREF(uuid);
    Py_XSETREF(config.uuid, uuid);
    Py_INCREF(safe_uuid_unknown);
    Py_XSETREF(config.safe_uuid_unknown, safe_uuid_unknown);
    Py_INCREF(c_float);
    Py_XSETREF(config.c_float, c_float);
    Py_INCREF(c_double);
    Py_XSETREF(config.c_double, c_double);
    config.max_nesting = max_nesting;
    config.uuid_fast = uuid_fast_path_works();
    Py_RETURN_NONE;
}

static PyMethodDef codec_methods[] = {
    {"pack", (PyCFunction)(void (*)(void))codec_pack, METH_FASTCALL | METH_KEYWORDS, pack_doc},
    {"pack_with_versionstamp", (PyCFunction)(void (*)(void))codec_pack_with_versionstamp,
     METH_FASTCALL | METH_KEYWORDS, pack_with_versionstamp_doc},
    {"unpack", (PyCFunction)(void (*)(void))codec_unpack, METH_FASTCALL | METH_KEYWORDS,
     unpack_doc},
    {"unpack_keys", (PyCFunction)(void (*)(void))codec_unpack_keys, METH_FASTCALL,
     unpack_keys_doc},
    {"configure", codec_configure, METH_VARARGS, configure_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef codec_module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "found._tuple_codec",
    .m_doc = "Native FoundationDB tuple-layer codec; use it through found.tuple.",
    .m_size = -1,
    .m_methods = codec_methods,
};

PyMODINIT_FUNC
PyInit__tuple_codec(void)
{
    struct {
        PyObject **target;
        const char *text;
    } names[] = {
        {&str_name, "__name__"},
        {&str_value, "value"},
        {&str_tr_version, "tr_version"},
        {&str_user_version, "user_version"},
        {&str_int, "int"},
        {&str_is_safe, "is_safe"},
        {&str_bit_length, "bit_length"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (*names[i].target == NULL) {
            *names[i].target = PyUnicode_InternFromString(names[i].text);
            if (*names[i].target == NULL) {
                return NULL;
            }
        }
    }
    if (empty_tuple == NULL && (empty_tuple = PyTuple_New(0)) == NULL) {
        return NULL;
    }
    if (int_64 == NULL && (int_64 = PyLong_FromLong(64)) == NULL) {
        return NULL;
    }
    return PyModule_Create(&codec_module);
}
