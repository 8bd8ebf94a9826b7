"""retainkit's tests."""

from retainkit.cli_runtime import single_threaded_blas

single_threaded_blas()  # as the command line does, before pandas loads NumPy's OpenBLAS
