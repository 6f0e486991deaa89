"""A Kubernetes API server on 127.0.0.1 (kmock) and the Kubernetes target connected to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import kmock
import pytest
from k8s_helpers import Sleeps

from conveyor.targets.kubernetes.api import KubeApi
from conveyor.targets.kubernetes.credentials import ClusterCredentials
from conveyor.targets.kubernetes.informer import Informer
from conveyor.targets.kubernetes.target import KubernetesTarget
from support.kube_api import KubeApiServer


@pytest.fixture
async def api() -> AsyncIterator[KubeApiServer]:
    async with kmock.KubernetesScaffold() as handler, kmock.Server(handler):
        yield KubeApiServer(handler)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def credentials(api: KubeApiServer) -> ClusterCredentials:
    return ClusterCredentials(
        name="mock", server=str(api.kmock.url).rstrip("/"), config={"bearerToken": "t0ken"}
    )


@pytest.fixture
async def target(
    credentials: ClusterCredentials, sleeps: Sleeps
) -> AsyncIterator[KubernetesTarget]:
    client = KubeApi(credentials, sleep=sleeps)
    target = KubernetesTarget(client, informer=Informer(client, sleep=sleeps))
    await target.start()
    try:
        yield target
    finally:
        await target.stop()
