"""ATOC: the kernel (``atoc.core``) and the center itself (``atoc.center``)."""
