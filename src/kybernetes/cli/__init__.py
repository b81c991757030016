"""The ``kyb`` command line."""
