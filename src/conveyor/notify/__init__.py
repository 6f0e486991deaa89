"""Notifications (an edge): Argo CD's and Argo Rollouts' triggers, templates and services.

The notifier (``notifier``) evaluates triggers (``catalog``, ``config``, ``conditions``,
``evaluate``) against engine events and the target's Rollouts, for the subscriptions that
annotations and the ConfigMap make (``subscriptions``); what they call for is rendered
(``templates``) and written to the store's outbox before anything is sent; the sender
(``delivery``, ``services``) delivers it with retries and dead-letters what keeps failing.
``service.NotificationService`` puts them together for the server. Docs: notifications.md.
"""
