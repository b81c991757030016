"""Unit tests of the container runtimes' pure parts."""
