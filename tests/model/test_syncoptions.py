"""Sync options parsed once: Argo CD's defaults, per-resource overrides, what is not understood."""

from __future__ import annotations

from conveyor.model.loading import application_from_dict
from conveyor.model.syncoptions import PropagationPolicy, SyncOptions


def annotated(options: str) -> dict:
    return {"metadata": {"name": "x", "annotations": {"argocd.argoproj.io/sync-options": options}}}


def test_defaults_are_argo_cds() -> None:
    o = SyncOptions.parse([])
    assert o.validate and o.prune == "true" and o.delete == "true"
    assert o.prune_propagation_policy is PropagationPolicy.FOREGROUND
    assert not (o.replace or o.force or o.prune_last or o.server_side_apply)


def test_app_options_and_the_last_one_wins() -> None:
    o = SyncOptions.parse(["Replace=true", "PrunePropagationPolicy=orphan", "Replace=false"])
    assert o.replace is False
    assert o.prune_propagation_policy is PropagationPolicy.ORPHAN
    assert o.to_list() == ["Replace=true", "PrunePropagationPolicy=orphan", "Replace=false"]


def test_a_resource_annotation_overrides_the_app_in_either_direction() -> None:
    app = SyncOptions.parse(["Replace=true", "PruneLast=false"])
    own = app.for_resource(annotated("Replace=false, PruneLast=true,Prune=confirm"))
    assert (own.replace, own.prune_last, own.prune) == (False, True, "confirm")
    assert app.for_resource({"metadata": {"name": "plain"}}) is app


def test_what_is_not_understood_is_listed_not_applied() -> None:
    own = SyncOptions.parse([]).for_resource(
        annotated("Replace=yes,Frobnicate=true,CreateNamespace=true")
    )
    assert own.replace is False and own.create_namespace is False
    assert len(own.problems) == 3
    assert "Replace=yes" in own.problems[0]
    assert "'Frobnicate' is not known" in own.problems[1]
    assert "CreateNamespace applies to a whole application" in own.problems[2]


def test_the_typed_application_gives_its_parsed_options() -> None:
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "a"},
        "spec": {
            "project": "default",
            "source": {"repoURL": "https://example.com/r.git", "path": "."},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "d"},
            "syncPolicy": {"syncOptions": ["Replace=true", "Prune=confirm"]},
        },
    }
    options = application_from_dict(manifest).value.sync_options
    assert options.replace and options.prune == "confirm"
