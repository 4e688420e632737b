"""The interfaces over the library: the ``amif-match`` command line and the HTTP service."""
