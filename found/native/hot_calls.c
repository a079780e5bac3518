/* hot_calls.c — found._hot_calls: the two calls a transaction makes most, a point get and
 * a set, as plain CPython functions.
 *
 * Why not through found._capi (cffi) like every other call: cffi releases and retakes the
 * GIL around each C call and converts each argument through its type machinery, ~90 ns a
 * call before the call does anything, and a get answered at once then needs a second
 * call (ffi.unpack) to become bytes. Here a get is one call that returns the bytes, and
 * neither call lets go of the GIL: both are non-blocking in the FDB C API (a get hands back
 * a future), and no thread of the client library takes the GIL (found's completion
 * notifier is plain C), so holding it cannot deadlock.
 *
 * The functions are the same C API entry points found._capi loaded: `bind` receives the
 * address of found._capi's table of them (found_hot_calls()), so this module links
 * against no libfdb_c and knows nothing past the C API. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdint.h>

/* Laid out as found._capi's struct found_hot_calls (FDB's fdb_bool_t and fdb_error_t are
 * int; the handles are opaque pointers). */
struct hot_calls {
    void* (*transaction_get)(void* tr, const uint8_t* key, int key_length, int snapshot);
    int (*future_is_ready)(void* f);
    int (*future_get_value)(void* f, int* present, const uint8_t** value, int* value_length);
    void (*future_destroy)(void* f);
    void (*transaction_set)(void* tr, const uint8_t* key, int key_length, const uint8_t* value,
                            int value_length);
};

static const struct hot_calls* calls;

static PyObject* hot_bind(PyObject* self, PyObject* address) {
    (void)self;
    void* table = PyLong_AsVoidPtr(address);
    if (table == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bind: a null table");
        return NULL;
    }
    calls = (const struct hot_calls*)table;
    Py_RETURN_NONE;
}

/* The transaction: its address, a positive int (found.Transaction._address). */
static int as_transaction(const char* what, PyObject* address, void** tr) {
    if (calls == NULL) {
        PyErr_Format(PyExc_RuntimeError, "%s: found._hot_calls is not bound", what);
        return -1;
    }
    if (!PyLong_Check(address)) {
        PyErr_Format(PyExc_TypeError, "%s: the transaction's address must be an int, not %.80s",
                     what, Py_TYPE(address)->tp_name);
        return -1;
    }
    const unsigned long long value = PyLong_AsUnsignedLongLong(address); /* < 0: OverflowError */
    if (value == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    if (value == 0) {
        PyErr_Format(PyExc_ValueError, "%s: a null transaction", what);
        return -1;
    }
    *tr = (void*)(uintptr_t)value;
    return 0;
}

/* A bytes object's bytes, at most INT_MAX of them (the C API's lengths are ints). */
static int as_bytes(const char* what, PyObject* bytes, const uint8_t** data, int* length) {
    if (!PyBytes_CheckExact(bytes)) {
        PyErr_Format(PyExc_TypeError, "%s: expected bytes, got %.80s", what, Py_TYPE(bytes)->tp_name);
        return -1;
    }
    if (PyBytes_GET_SIZE(bytes) > INT_MAX) {
        PyErr_Format(PyExc_ValueError, "%s: %zd bytes is more than a C int holds", what,
                     PyBytes_GET_SIZE(bytes));
        return -1;
    }
    *data = (const uint8_t*)PyBytes_AS_STRING(bytes);
    *length = (int)PyBytes_GET_SIZE(bytes);
    return 0;
}

/* Whether `nargs` is the 3 that `signature` takes (a TypeError naming it when not). */
static int three_arguments(const char* signature, Py_ssize_t nargs) {
    if (nargs == 3) return 0;
    PyErr_Format(PyExc_TypeError, "%s takes 3 arguments (%zd given)", signature, nargs);
    return -1;
}

/* get(transaction, key, snapshot) -> bytes | None | int: the value or None when the get
 * is answered at once (the future destroyed); else an int, the pending future's address
 * (> 0, for the caller to await and destroy), or minus an FDB error code. */
static PyObject* hot_get(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    (void)self;
    void* tr;
    const uint8_t* key;
    int key_length;
    if (three_arguments("get(transaction, key, snapshot)", nargs) ||
        as_transaction("get", args[0], &tr) || as_bytes("get", args[1], &key, &key_length))
        return NULL;
    const int snapshot = PyObject_IsTrue(args[2]);
    if (snapshot < 0) return NULL;
    void* future = calls->transaction_get(tr, key, key_length, snapshot);
    if (!calls->future_is_ready(future)) return PyLong_FromVoidPtr(future);
    int present = 0, length = 0;
    const uint8_t* value = NULL;
    const int error = calls->future_get_value(future, &present, &value, &length);
    PyObject* result;
    if (error) result = PyLong_FromLong(-(long)error);
    else if (!present) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
    else result = PyBytes_FromStringAndSize((const char*)value, length);
    calls->future_destroy(future);
    return result;
}

/* set(transaction, key, value): fdb_transaction_set (its errors surface at commit). */
static PyObject* hot_set(PyObject* self, PyObject* const* args, Py_ssize_t nargs) {
    (void)self;
    void* tr;
    const uint8_t *key, *value;
    int key_length, value_length;
    if (three_arguments("set(transaction, key, value)", nargs) ||
        as_transaction("set", args[0], &tr) || as_bytes("set", args[1], &key, &key_length) ||
        as_bytes("set", args[2], &value, &value_length))
        return NULL;
    calls->transaction_set(tr, key, key_length, value, value_length);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bind", (PyCFunction)hot_bind, METH_O, "bind(address): the table of C API functions to call."},
    {"get", (PyCFunction)(void (*)(void))hot_get, METH_FASTCALL,
     "get(transaction, key, snapshot) -> bytes | None | int (see hot_calls.c)."},
    {"set", (PyCFunction)(void (*)(void))hot_set, METH_FASTCALL,
     "set(transaction, key, value): fdb_transaction_set."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "found._hot_calls",
    "A point get and a set of the FDB C API without cffi's per-call costs.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__hot_calls(void) { return PyModule_Create(&module); }
