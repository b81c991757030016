"""Custom resources' schemas at run time: a CRD version's ``openAPIV3Schema`` compiled once
(``schema.py``), then validation (``validate.py``), defaulting and pruning
(``defaulting.py``) and CEL rules (``cel.py``) of the objects it describes. Pure functions, no
I/O; the API server's ``apiserver/crd`` package serves them.
"""
