/* rows.c — found._rows: the per-row loops of reading ranges, in C. `from_array` turns the
 * FDBKeyValue array of a ready range future into Python (key, value) tuples in one call:
 * straight from the future's memory, it saves a copy and two slices per row, most of a
 * range read's cost in Python. `bindings` and `hash_join` are the per-row loops of the
 * layers' queries over what the reads return. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* Objects that hold only atomic values (str, bytes, int…) are left out of the cyclic
 * garbage collector's lists, as CPython does itself for such tuples and dicts, only
 * lazily. A query builds tens of thousands of them at a time; tracked, they made the
 * collector promote them and then walk the whole heap (a third of a large join's time). */
static int holds_only_untracked(PyObject* const* items, Py_ssize_t count) {
    for (Py_ssize_t i = 0; i < count; i++)
        if (PyObject_GC_IsTracked(items[i])) return 0;
    return 1;
}

static void untrack_if_atomic_tuple(PyObject* tuple) {
    if (holds_only_untracked(&PyTuple_GET_ITEM(tuple, 0), PyTuple_GET_SIZE(tuple)))
        PyObject_GC_UnTrack(tuple);
}

/* FDB's FDBKeyValue: packed to 4 bytes, 24 bytes on 64-bit (the C ABI's layout). */
#pragma pack(push, 4)
typedef struct {
    const uint8_t* key;
    int key_length;
    const uint8_t* value;
    int value_length;
} KeyValue;
#pragma pack(pop)

/* from_array(address, count) -> list[tuple[bytes, bytes]]: the rows of an FDBKeyValue
 * array that a ready range future holds (the caller keeps the future alive meanwhile). */
static PyObject* from_array(PyObject* module, PyObject* args) {
    unsigned long long address;
    Py_ssize_t count;
    (void)module;
    if (!PyArg_ParseTuple(args, "Kn", &address, &count)) return NULL;
    if (count < 0 || (count > 0 && address == 0)) {
        PyErr_SetString(PyExc_ValueError, "bad key-value array");
        return NULL;
    }
    const KeyValue* rows = (const KeyValue*)(uintptr_t)address;
    PyObject* list = PyList_New(count);
    if (!list) return NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject* key = PyBytes_FromStringAndSize((const char*)rows[i].key, rows[i].key_length);
        PyObject* value = key ? PyBytes_FromStringAndSize((const char*)rows[i].value,
                                                          rows[i].value_length) : NULL;
        PyObject* row = value ? PyTuple_New(2) : NULL;
        if (!row) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            Py_DECREF(list);
            return NULL;
        }
        PyTuple_SET_ITEM(row, 0, key);
        PyTuple_SET_ITEM(row, 1, value);
        PyObject_GC_UnTrack(row); /* two bytes objects */
        PyList_SET_ITEM(list, i, row);
    }
    return list;
}

/* bindings(cls, names, rows) -> list[cls]: for each tuple of `rows`, a new instance of
 * the dict subclass `cls` mapping names[i] to row[i]. A layer's query results are dicts
 * of a read-only subclass; made in Python, each costs a type call, a dict display and a
 * copy, about twice a plain dict. Here it is one allocation and a store per item. */
static PyObject* bindings(PyObject* module, PyObject* args) {
    PyObject *cls, *names, *rows;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!O!O!:bindings", &PyType_Type, &cls, &PyTuple_Type, &names,
                          &PyList_Type, &rows))
        return NULL;
    PyTypeObject* type = (PyTypeObject*)cls;
    if (!PyType_IsSubtype(type, &PyDict_Type)) {
        PyErr_Format(PyExc_TypeError, "bindings() needs a dict subclass, got %R", cls);
        return NULL;
    }
    const Py_ssize_t width = PyTuple_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < width; i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(names, i))) {
            PyErr_SetString(PyExc_TypeError, "bindings() needs a tuple of str names");
            return NULL;
        }
    }
    PyObject* empty = PyTuple_New(0);
    if (!empty) return NULL;
    const Py_ssize_t count = PyList_GET_SIZE(rows);
    PyObject* list = PyList_New(count);
    if (!list) {
        Py_DECREF(empty);
        return NULL;
    }
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject* row = PyList_GET_ITEM(rows, r);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != width) {
            PyErr_Format(PyExc_ValueError, "bindings(): row %zd is not a tuple of %zd items", r,
                         width);
            goto fail;
        }
        PyObject* binding = type->tp_new(type, empty, NULL);
        if (!binding) goto fail;
        PyList_SET_ITEM(list, r, binding);
        for (Py_ssize_t i = 0; i < width; i++) {
            if (PyDict_SetItem(binding, PyTuple_GET_ITEM(names, i), PyTuple_GET_ITEM(row, i)) < 0)
                goto fail;
        }
        /* A dict re-tracks itself when a tracked value is stored in it later, and a
         * Binding has no slots of its own: the same rule as CPython's for plain dicts. */
        if (holds_only_untracked(&PyTuple_GET_ITEM(row, 0), width)) PyObject_GC_UnTrack(binding);
    }
    Py_DECREF(empty);
    return list;
fail:
    Py_DECREF(empty);
    Py_DECREF(list);
    return NULL;
}

/* hash_join(table, rows, position, key_of) -> list[tuple]: every tuple of `rows`
 * extended by table[key] (a tuple, or a list of tuples: one row out per tuple), where key is row[position] when that is a
 * str and key_of(row[position]) otherwise; rows without an entry are dropped. The inner
 * loop of a layer's in-memory join, where Python spends most of its time on the loop. */
static PyObject* hash_join(PyObject* module, PyObject* args) {
    PyObject *table, *rows, *key_of;
    Py_ssize_t position;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!O!nO:hash_join", &PyDict_Type, &table, &PyList_Type, &rows,
                          &position, &key_of))
        return NULL;
    PyObject* out = PyList_New(0);
    if (!out) return NULL;
    const Py_ssize_t count = PyList_GET_SIZE(rows);
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject* row = PyList_GET_ITEM(rows, r);
        if (!PyTuple_Check(row) || position < 0 || position >= PyTuple_GET_SIZE(row)) {
            PyErr_Format(PyExc_ValueError, "hash_join(): row %zd has no item %zd", r, position);
            goto fail;
        }
        PyObject* item = PyTuple_GET_ITEM(row, position);
        PyObject* bucket;
        if (PyUnicode_CheckExact(item)) {
            bucket = PyDict_GetItemWithError(table, item);
        } else {
            PyObject* key = PyObject_CallOneArg(key_of, item);
            if (!key) goto fail;
            bucket = PyDict_GetItemWithError(table, key);
            Py_DECREF(key);
        }
        if (!bucket) {
            if (PyErr_Occurred()) goto fail;
            continue;
        }
        const int one = PyTuple_Check(bucket);
        if (!one && !PyList_Check(bucket)) {
            PyErr_SetString(PyExc_TypeError,
                            "hash_join(): table values must be tuples or lists of tuples");
            goto fail;
        }
        const Py_ssize_t width = PyTuple_GET_SIZE(row);
        const Py_ssize_t matches = one ? 1 : PyList_GET_SIZE(bucket);
        for (Py_ssize_t b = 0; b < matches; b++) {
            PyObject* free = one ? bucket : PyList_GET_ITEM(bucket, b);
            if (!PyTuple_Check(free)) {
                PyErr_SetString(PyExc_TypeError,
                                "hash_join(): table values must be tuples or lists of tuples");
                goto fail;
            }
            const Py_ssize_t extra = PyTuple_GET_SIZE(free);
            PyObject* joined = PyTuple_New(width + extra);
            if (!joined) goto fail;
            for (Py_ssize_t i = 0; i < width; i++) {
                PyObject* value = PyTuple_GET_ITEM(row, i);
                Py_INCREF(value);
                PyTuple_SET_ITEM(joined, i, value);
            }
            for (Py_ssize_t i = 0; i < extra; i++) {
                PyObject* value = PyTuple_GET_ITEM(free, i);
                Py_INCREF(value);
                PyTuple_SET_ITEM(joined, width + i, value);
            }
            untrack_if_atomic_tuple(joined);
            int failed = PyList_Append(out, joined);
            Py_DECREF(joined);
            if (failed) goto fail;
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"hash_join", hash_join, METH_VARARGS,
     "hash_join(table, rows, position, key_of) -> rows extended by table[key of row[position]]"
     " (a tuple or a list of tuples)"},
    {"bindings", bindings, METH_VARARGS,
     "bindings(cls, names, rows) -> list of cls (a dict subclass), names[i] -> row[i] each"},
    {"from_array", from_array, METH_VARARGS,
     "from_array(address, count) -> list of (key, value) tuples of an FDBKeyValue array"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "found._rows", NULL, -1, methods};

PyMODINIT_FUNC PyInit__rows(void) { return PyModule_Create(&module); }
