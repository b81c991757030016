"""Test helpers shipped with the package: builders, fixtures, fakes."""
