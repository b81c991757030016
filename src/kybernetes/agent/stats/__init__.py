"""Node and pod resource usage: collected on each agent, pushed to the API server.

``summary.py`` builds the summary document (a subset of the kubelet's ``/stats/summary``) and
turns cumulative CPU counters into rates; ``cgroupv1.py`` and ``host.py`` read real containers'
cgroups and the host's ``/proc``; ``synthetic.py`` makes configurable usage for simulated
nodes; ``publisher.py`` pushes each node's summary to ``metrics.k8s.io`` every interval;
``endpoint.py`` serves the same document over HTTP for the agent's own server.
"""
