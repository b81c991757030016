"""Node and pod resource usage: collected on each agent, pushed to the API server.

``summary.py`` builds the summary document (the kubelet's ``/stats/summary``) and turns
cumulative CPU counters into rates; ``cgroupv1.py``, ``host.py`` and ``fs.py`` read real
containers' cgroups, the host's ``/proc`` and the disk, and ``collector.py`` puts them together
for a real node; ``synthetic.py`` makes configurable usage for simulated nodes;
``publisher.py`` pushes each node's summary to ``metrics.k8s.io`` every interval. The agent's
own server serves the latest summary (``agent/server/stats.py``).
"""
