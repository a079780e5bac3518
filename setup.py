"""Native parts of `found`: the embedded engine (a shared library exporting the libfdb_c
ABI, installed as found/libfdb_c.so), the cffi module that calls the C API, and the
tuple codec accelerator."""

from __future__ import annotations

import glob
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ENGINE_SOURCES = sorted(glob.glob(os.path.join("found", "engine", "*.cc")))


class BuildNative(build_ext):
    """Names the engine `libfdb_c.so` (no Python ABI tag): it is a plain C library that
    any FDB binding can load, not a Python extension module."""

    def get_ext_filename(self, fullname: str) -> str:
        # distutils passes either the dotted name or only its last part.
        if fullname.split(".")[-1] == "libfdb_c":
            return os.path.join(*fullname.split(".")[:-1], "libfdb_c.so")
        return super().get_ext_filename(fullname)

    def get_export_symbols(self, ext: Extension) -> list[str]:
        if ext.name == "found.libfdb_c":
            return []
        return super().get_export_symbols(ext)

    def build_extension(self, ext: Extension) -> None:
        if ext.name != "found.libfdb_c":
            super().build_extension(ext)
            return
        # Compile the engine with the C++ driver, then put the C compiler back.
        compiler = self.compiler
        saved = list(compiler.compiler_so)
        compiler.compiler_so = [flag for flag in saved if flag != "-Wstrict-prototypes"]
        if compiler.compiler_cxx:
            compiler.compiler_so = [compiler.compiler_cxx[0]] + compiler.compiler_so[1:]
        try:
            super().build_extension(ext)
        finally:
            compiler.compiler_so = saved


engine = Extension(
    "found.libfdb_c",
    sources=ENGINE_SOURCES,
    language="c++",
    extra_compile_args=["-std=c++17", "-O2", "-fvisibility=hidden", "-fno-strict-aliasing"],
    extra_link_args=[
        "-Wl,-soname,libfdb_c.so",
        "-Wl,--version-script=" + os.path.join("found", "engine", "exports.map"),
        "-lstdc++",
        "-lpthread",
    ],
    depends=sorted(glob.glob(os.path.join("found", "engine", "*.h"))),
)

extensions = [
    engine,
    Extension(
        "found._rows",
        sources=[os.path.join("found", "native", "rows.c")],
        extra_compile_args=["-O2"],
    ),
    Extension(
        "found._hot_calls",
        sources=[os.path.join("found", "native", "hot_calls.c")],
        extra_compile_args=["-O2"],
    ),
]
if os.path.exists(os.path.join("found", "native", "tuple_codec.c")):
    extensions.append(
        Extension(
            "found._tuple_codec",
            sources=[os.path.join("found", "native", "tuple_codec.c")],
            extra_compile_args=["-O2"],
        )
    )

setup(
    ext_modules=extensions,
    cffi_modules=["found/_capi_build.py:ffibuilder"],
    cmdclass={"build_ext": BuildNative},
)
