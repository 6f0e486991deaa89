"""Service networking of the local runtime: ports, Service proxies, balancing and stats.

``services.ServiceManager`` keeps one ``proxy.ServiceProxy`` per Service port in line with the
Service and its Ready Pods. A proxy balances HTTP per request (``http_frontend``: requests read
by ``http_request``, sent over ``http_upstream`` connections, both parsed by llhttp) or TCP per
connection (``tcp``), over the endpoint groups of ``balancer`` (exact weights between
ReplicaSets, round robin inside one), and records what each ReplicaSet served in ``stats``.
Modules import downward only (import-linter checks it): services > proxy > http_frontend >
http_upstream, http_request > tcp > context > balancer, stats, ports > endpoints.
"""
