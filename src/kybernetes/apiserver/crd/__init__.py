"""Custom resources: CustomResourceDefinitions made into served resources.

``controller.py`` follows the CRDs and installs a ``store.CustomResourceStore`` per served
version (``versions.py``), with names and conditions from ``names.py``, upstream's deletion
rules for CRDs in ``definitions.py`` and the ``scale`` subresource in ``scale.py``.
"""
