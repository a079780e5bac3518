/* rows.c — found._rows: turns a packed block of range-read rows into Python tuples.
 *
 * Block layout (built by found_take_range in the cffi module): count × (u32 key length,
 * u32 value length) little-endian, then every key and value back to back. Doing the split
 * in C saves two slices and a tuple build per row in Python, the larger part of the cost
 * of a range read on the embedded engine. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* split(block, count) -> list[tuple[bytes, bytes]]; ValueError on an inconsistent block. */
static PyObject* split(PyObject* module, PyObject* args) {
    Py_buffer view;
    Py_ssize_t count;
    (void)module;
    if (!PyArg_ParseTuple(args, "y*n", &view, &count)) return NULL;
    const unsigned char* data = view.buf;
    const Py_ssize_t size = view.len;
    PyObject* rows = NULL;
    if (count < 0 || count > size / 8) goto bad;
    rows = PyList_New(count);
    if (!rows) goto fail;
    Py_ssize_t at = count * 8;
    for (Py_ssize_t i = 0; i < count; i++) {
        uint32_t key_length, value_length;
        memcpy(&key_length, data + 8 * i, 4);
        memcpy(&value_length, data + 8 * i + 4, 4);
        if ((Py_ssize_t)key_length > size - at) goto bad;
        if ((Py_ssize_t)value_length > size - at - (Py_ssize_t)key_length) goto bad;
        PyObject* key = PyBytes_FromStringAndSize((const char*)data + at, key_length);
        at += key_length;
        PyObject* value = key ? PyBytes_FromStringAndSize((const char*)data + at, value_length) : NULL;
        at += value_length;
        PyObject* row = value ? PyTuple_New(2) : NULL;
        if (!row) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            goto fail;
        }
        PyTuple_SET_ITEM(row, 0, key);
        PyTuple_SET_ITEM(row, 1, value);
        PyList_SET_ITEM(rows, i, row);
    }
    PyBuffer_Release(&view);
    return rows;
bad:
    PyErr_SetString(PyExc_ValueError, "inconsistent range block");
fail:
    Py_XDECREF(rows);
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef methods[] = {
    {"split", split, METH_VARARGS, "split(block, count) -> list of (key, value) tuples"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "found._rows", NULL, -1, methods};

PyMODINIT_FUNC PyInit__rows(void) { return PyModule_Create(&module); }
