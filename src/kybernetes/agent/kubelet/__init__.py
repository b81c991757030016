"""The node agent proper (the kubelet): pods bound to this node run as runtime containers.

``kubelet.py`` is the agent; ``run_kubelet`` is its entry point.
"""
