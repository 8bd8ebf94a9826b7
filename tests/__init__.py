"""retainkit's tests."""

from retainkit.process_setup import single_threaded_blas

single_threaded_blas()  # as the command line does, before pandas loads NumPy's OpenBLAS
