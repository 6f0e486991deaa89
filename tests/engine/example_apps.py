"""A local recreation of argoproj/argocd-example-apps, the repository Argo CD's getting-started
guide points new users at (same directory layout, same manifests; the Argo CD project's public
examples, recreated as test fixtures since tests never reach the network). The app of apps'
``values.yaml`` points at this local copy, as a user's fork would; the PreSync hook's ``curl``
asks for its version instead of fetching a URL; replica counts are 1 where 3 changed nothing.
No image of these is in the local artifact store, so nothing of them runs: what is checked is
that each syncs as far as Argo CD would and that health says why nothing runs."""

from __future__ import annotations

from pathlib import Path

from engine.engine_helpers import ConfigRepo

GUESTBOOK_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook-ui
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app: guestbook-ui
  template:
    metadata:
      labels:
        app: guestbook-ui
    spec:
      containers:
      - image: gcr.io/heptio-images/ks-guestbook-demo:0.2
        name: guestbook-ui
        ports:
        - containerPort: 80
"""
GUESTBOOK_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: guestbook-ui
spec:
  ports:
  - port: 80
    targetPort: 80
  selector:
    app: guestbook-ui
"""
KUSTOMIZATION = """\
namePrefix: kustomize-
configMapGenerator:
- name: guestbook-cm
  files:
  - index2.html
resources:
- guestbook-ui-deployment.yaml
- guestbook-ui-svc.yaml
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
"""
HELM_CHART = """\
apiVersion: v2
name: helm-guestbook
description: A Helm chart for Kubernetes
type: application
version: 0.1.0
appVersion: "1.0"
"""
HELM_VALUES = """\
replicaCount: 1
image:
  repository: gcr.io/heptio-images/ks-guestbook-demo
  tag: 0.1
  pullPolicy: IfNotPresent
containerPort: 80
service:
  type: ClusterIP
  port: 80
"""
HELM_HELPERS = """\
{{- define "helm-guestbook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- define "helm-guestbook.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}
"""
HELM_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ template "helm-guestbook.fullname" . }}
  labels:
    app: {{ template "helm-guestbook.name" . }}
    release: {{ .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      app: {{ template "helm-guestbook.name" . }}
      release: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ template "helm-guestbook.name" . }}
        release: {{ .Release.Name }}
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          ports:
            - name: http
              containerPort: {{ .Values.containerPort }}
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /
              port: http
          readinessProbe:
            httpGet:
              path: /
              port: http
"""
HELM_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {{ template "helm-guestbook.fullname" . }}
  labels:
    app: {{ template "helm-guestbook.name" . }}
    release: {{ .Release.Name }}
spec:
  type: {{ .Values.service.type }}
  ports:
    - port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
      name: http
  selector:
    app: {{ template "helm-guestbook.name" . }}
    release: {{ .Release.Name }}
"""
# `helm create`'s chart, trimmed to what matters here: it has a ServiceAccount, as most do.
SA_CHART = """\
apiVersion: v2
name: web
version: 0.1.0
appVersion: "1.16.0"
"""
SA_VALUES = """\
image:
  repository: nginx
  tag: ""
serviceAccount:
  create: true
  name: ""
"""
SA_TEMPLATES = {
    "serviceaccount.yaml": """\
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ .Release.Name }}
  labels:
    app.kubernetes.io/name: {{ .Chart.Name }}
automountServiceAccountToken: true
{{- end }}
""",
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: {{ .Chart.Name }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{ .Chart.Name }}
    spec:
      serviceAccountName: {{ .Release.Name }}
      containers:
        {{- $tag := .Values.image.tag | default .Chart.AppVersion }}
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ $tag }}"
          ports:
            - name: http
              containerPort: 80
""",
}
SYNC_WAVES = """\
---
apiVersion: batch/v1
kind: Job
metadata:
  generateName: upgrade-sql-schema-
  annotations:
    argocd.argoproj.io/hook: PostSync
spec:
  template:
    spec:
      containers:
        - name: upgrade-sql-schema
          image: alpine:latest
          command: ["sleep", "10"]
      restartPolicy: Never
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: backend
spec:
  replicas: 2
  selector:
    matchLabels:
      tier: backend
  template:
    metadata:
      labels:
        tier: backend
    spec:
      containers:
        - name: main
          image: nginx:latest
---
apiVersion: v1
kind: Service
metadata:
  name: backend-svc
spec:
  selector:
    tier: backend
  ports:
    - protocol: TCP
      port: 8080
      targetPort: 8080
---
apiVersion: batch/v1
kind: Job
metadata:
  generateName: maintenance-page-up-
  annotations:
    argocd.argoproj.io/hook: Sync
    argocd.argoproj.io/sync-wave: "1"
spec:
  template:
    spec:
      containers:
        - name: page-up
          image: alpine:latest
          command: ["sleep", "10"]
      restartPolicy: Never
  backoffLimit: 0
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
spec:
  replicas: 2
  selector:
    matchLabels:
      tier: frontend
  template:
    metadata:
      labels:
        tier: frontend
    spec:
      containers:
        - name: main
          image: node:latest
---
apiVersion: v1
kind: Service
metadata:
  name: frontend
  annotations:
    argocd.argoproj.io/sync-wave: "1"
spec:
  selector:
    tier: frontend
  ports:
    - protocol: TCP
      port: 80
      targetPort: 80
---
apiVersion: batch/v1
kind: Job
metadata:
  generateName: maintenance-page-down-
  annotations:
    argocd.argoproj.io/hook: PostSync
spec:
  template:
    spec:
      containers:
        - name: page-down
          image: alpine:latest
          command: ["sleep", "10"]
      restartPolicy: Never
"""
PRE_SYNC_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: before
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  template:
    spec:
      containers:
      - name: endpoint-consumer
        image: curlimages/curl
        command: ["curl", "--version"]
      restartPolicy: Never
  backoffLimit: 2
"""
PRE_POST_KUSTOMIZATION = """\
namePrefix: pre-post-sync-

resources:
- guestbook-ui-deployment.yaml
- guestbook-ui-svc.yaml
- pre-sync-job.yaml
"""
APPS_CHART = """\
apiVersion: v2
name: applications
version: 0.1.0
"""
APPS_CHILD = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  namespace: argocd
  finalizers:
  - resources-finalizer.argocd.argoproj.io
spec:
  destination:
    namespace: {name}
    server: {{{{ .Values.spec.destination.server }}}}
  project: default
  source:
    path: {name}
    repoURL: {{{{ .Values.spec.source.repoURL }}}}
    targetRevision: {{{{ .Values.spec.source.targetRevision }}}}
"""


def example_apps(root: Path) -> ConfigRepo:
    """The example repository, committed on ``main``."""
    repo = ConfigRepo(root)
    repo.write_text("guestbook/guestbook-ui-deployment.yaml", GUESTBOOK_DEPLOYMENT)
    repo.write_text("guestbook/guestbook-ui-svc.yaml", GUESTBOOK_SERVICE)
    repo.write_text("kustomize-guestbook/kustomization.yaml", KUSTOMIZATION)
    repo.write_text("kustomize-guestbook/guestbook-ui-deployment.yaml", GUESTBOOK_DEPLOYMENT)
    repo.write_text("kustomize-guestbook/guestbook-ui-svc.yaml", GUESTBOOK_SERVICE)
    repo.write_text("kustomize-guestbook/index2.html", "<html><body>guestbook</body></html>\n")
    repo.write_text("helm-guestbook/Chart.yaml", HELM_CHART)
    repo.write_text("helm-guestbook/values.yaml", HELM_VALUES)
    repo.write_text("helm-guestbook/templates/_helpers.tpl", HELM_HELPERS)
    repo.write_text("helm-guestbook/templates/deployment.yaml", HELM_DEPLOYMENT)
    repo.write_text("helm-guestbook/templates/service.yaml", HELM_SERVICE)
    repo.write_text("web-chart/Chart.yaml", SA_CHART)
    repo.write_text("web-chart/values.yaml", SA_VALUES)
    for name, text in SA_TEMPLATES.items():
        repo.write_text(f"web-chart/templates/{name}", text)
    repo.write_text("sync-waves/manifests.yaml", SYNC_WAVES)
    repo.write_text("pre-post-sync/kustomization.yaml", PRE_POST_KUSTOMIZATION)
    repo.write_text("pre-post-sync/pre-sync-job.yaml", PRE_SYNC_JOB)
    repo.write_text("pre-post-sync/guestbook-ui-deployment.yaml", GUESTBOOK_DEPLOYMENT)
    repo.write_text("pre-post-sync/guestbook-ui-svc.yaml", GUESTBOOK_SERVICE)
    repo.write_text("apps/Chart.yaml", APPS_CHART)
    repo.write_text(
        "apps/values.yaml",
        "spec:\n  destination:\n    server: https://kubernetes.default.svc\n"
        f"  source:\n    repoURL: {repo.url}\n    targetRevision: HEAD\n",
    )
    for child in ("helm-guestbook", "kustomize-guestbook", "guestbook"):
        repo.write_text(f"apps/templates/{child}.yaml", APPS_CHILD.format(name=child))
    repo.commit("argocd-example-apps")
    return repo
