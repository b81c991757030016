"""Admission webhooks: MutatingWebhookConfiguration and ValidatingWebhookConfiguration at work.

``config`` parses the stored configurations, ``matching`` decides which webhooks a request
concerns, ``review`` builds the AdmissionReview and reads its answer, ``client`` calls the
webhook over HTTPS, and ``dispatcher`` runs them in upstream's order around the registry's
validation. Nothing here stores anything: the configurations are read from the API server's
own watch cache.
"""
