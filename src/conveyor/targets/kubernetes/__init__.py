"""The Kubernetes target: the Target protocol over a cluster's API server.

Credentials (``credentials``), the cluster's resource types (``discovery``), REST calls with
the API server's errors turned into Conveyor's (``api``, ``errors``), the live state from list
and watch (``informer``, with Argo CD's annotation tracking read by ``tracking``), client-side
apply migration (``migration``) and the target itself (``target``). Which cluster an
Application's destination names is decided by ``destinations``.
"""
