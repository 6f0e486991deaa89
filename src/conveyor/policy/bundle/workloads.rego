# Conveyor's default policy bundle: the seeds' rules for workloads, over rendered manifests.
#
# input.request.object is one rendered object (AdmissionReview's shape, so the seeds' OPA
# policies run unchanged); input.environment is the app's environment ("" when unknown).
package conveyor.workloads

import rego.v1

workload_kinds := {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Rollout"}

obj := input.request.object

kind := input.request.kind.kind

name := sprintf("%s/%s", [kind, object.get(obj, ["metadata", "name"], "")])

pod_spec := obj.spec if kind == "Pod"

pod_spec := obj.spec.jobTemplate.spec.template.spec if kind == "CronJob"

pod_spec := obj.spec.template.spec if {
	workload_kinds[kind]
	not kind in {"Pod", "CronJob"}
}

containers contains c if some c in pod_spec.containers

containers contains c if some c in pod_spec.initContainers

pod_security := object.get(pod_spec, "securityContext", {})

# -- no root containers ------------------------------------------------------------------

runs_as_root(c) if object.get(c, ["securityContext", "runAsUser"], object.get(pod_security, "runAsUser", -1)) == 0

runs_as_root(c) if object.get(c, ["securityContext", "runAsRoot"], false) == true

runs_as_root(c) if {
	object.get(c, ["securityContext", "runAsNonRoot"], object.get(pod_security, "runAsNonRoot", null)) == null
	object.get(c, ["securityContext", "runAsUser"], object.get(pod_security, "runAsUser", null)) == null
}

runs_as_root(c) if object.get(c, ["securityContext", "runAsNonRoot"], true) == false

deny contains msg if {
	some c in containers
	runs_as_root(c)
	msg := sprintf("%s: container %q may run as root: set securityContext.runAsNonRoot: true (or a non-zero runAsUser)", [name, c.name])
}

# -- resource limits required ------------------------------------------------------------

deny contains msg if {
	some c in containers
	some resource in ["cpu", "memory"]
	not c.resources.limits[resource]
	msg := sprintf("%s: container %q has no %s limit: set resources.limits.%s", [name, c.name, resource, resource])
}

# -- no :latest or untagged images -------------------------------------------------------

image_tag(image) := tag if {
	not contains(image, "@")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
}

deny contains msg if {
	some c in containers
	not contains(c.image, "@")
	not image_tag(c.image)
	msg := sprintf("%s: container %q uses the untagged image %q: pin a tag (the git SHA)", [name, c.name, c.image])
}

deny contains msg if {
	some c in containers
	image_tag(c.image) == "latest"
	msg := sprintf("%s: container %q uses %q: :latest is not a version, pin a tag", [name, c.name, c.image])
}

# -- probes required in prod -------------------------------------------------------------

deny contains msg if {
	input.environment in {"prod", "production"}
	some c in pod_spec.containers
	some probe in ["readinessProbe", "livenessProbe"]
	not c[probe]
	msg := sprintf("%s: container %q has no %s, required in %s", [name, c.name, probe, input.environment])
}
